package syncrun

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// fakeSystem joins a source and a destination under one name, as connector.New returns.
type fakeSystem struct {
	connector.Source
	connector.Destination
	name string
}

func (f fakeSystem) System() string { return f.name }

// podFiles lays out what the operator mounts into a sync pod: the configuration, both systems'
// credentials and the keyring.
func podFiles(t *testing.T, k *keyring.Keyring) (configPath string, cfg syncconfig.Config) {
	t.Helper()
	dir := t.TempDir()
	addrs, err := testenv.FreeLoopbackAddrs(2)
	if err != nil {
		t.Fatal(err)
	}
	health, metrics := addrs[0], addrs[1]
	cfg = syncconfig.Config{
		Tenant: "acme", Integration: "cerbo-to-quickbooks",
		Source: syncconfig.Endpoint{System: "cerbo", URL: "https://cerbo.example", CredentialsDir: filepath.Join(dir, "source"),
			AllowedHosts: []string{"cerbo.example"}},
		Destination: syncconfig.Endpoint{System: "quickbooks", URL: "https://qb.example", CredentialsDir: filepath.Join(dir, "destination"),
			AllowedHosts: []string{"qb.example"}},
		Schedule:   syncconfig.Schedule{Interval: "1h"},
		Fields:     []string{"name", "email", "phone"},
		TLS:        syncconfig.TLS{MinVersion: "1.2"},
		StateDir:   filepath.Join(dir, "state"),
		HealthAddr: health, MetricsAddr: metrics,
	}
	write := func(path, data string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(cfg.Source.CredentialsDir, "api_key"), "s3cret")
	write(filepath.Join(cfg.Destination.CredentialsDir, "refresh_token"), "r3fresh")
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if k != nil {
		b, err := k.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		cfg.KeyringFile = filepath.Join(dir, "keyring", keyring.DataKey)
		write(cfg.KeyringFile, string(b))
	}
	body, err := syncconfig.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	configPath = filepath.Join(dir, syncconfig.FileName)
	write(configPath, body)
	return configPath, cfg
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRunSyncsServesProbesAndStopsOnSignal(t *testing.T) {
	configPath, cfg := podFiles(t, newKeyring(t, 1, 1))
	dst := newMemoryDestination()
	var gotCreds connector.Credentials
	factory := func(system, _ string, _ []string, creds connector.Credentials, minTLS string, _ ConnectorStores, _ logr.Logger) (connector.Connector, error) {
		if minTLS != "1.2" {
			t.Errorf("connector built with TLS minimum %q", minTLS)
		}
		if system == "cerbo" {
			gotCreds = creds
		}
		return fakeSystem{Source: &pagedSource{records: patients(5), pageSize: 2, failAt: -1}, Destination: dst, name: system}, nil
	}
	ready := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigPath: configPath, NewConnector: factory, Log: testr.New(t), Ready: func(reason string) {
			if reason == "" {
				ready <- struct{}{}
			}
		}})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("never ready")
	}
	if string(gotCreds["api_key"]) != "s3cret" {
		t.Fatalf("source credentials not read from the mounted files: %v", len(gotCreds))
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		// The creates are counted as the destination answers; the mapping's gauge after the cycle,
		// once its rows are committed (written behind the requests), which can come a moment later.
		_, body := get(t, "http://"+cfg.MetricsAddr+"/metrics")
		if !strings.Contains(body, `tenantwire_sync_records_total{result="created"} 5`) ||
			!strings.Contains(body, `tenantwire_sync_mapping_records{key_version="1"} 10`) {
			return errors.New("the first cycle's five creates and their mapping rows are not in the metrics yet")
		}
		return nil
	})
	if code, _ := get(t, "http://"+cfg.HealthAddr+"/readyz"); code != http.StatusOK {
		t.Fatalf("readyz %d", code)
	}
	_, body := get(t, "http://"+cfg.MetricsAddr+"/metrics")
	for _, want := range []string{`tenantwire_sync_mapping_records{key_version="1"} 10`, "tenantwire_sync_last_success_timestamp_seconds", "tenantwire_sync_ready 1"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, "s3cret") || strings.Contains(body, "p3") {
		t.Error("metrics carry a credential or a patient ID")
	}
	if _, err := os.Stat(filepath.Join(cfg.StateDir, syncconfig.SQLiteFile)); err != nil {
		t.Fatalf("the mapping is not in the state directory: %v", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop on cancellation")
	}
}

func TestRunRefusesWhatItCannotRunWith(t *testing.T) {
	noKeyring, _ := podFiles(t, nil)
	badSchedule, cfg := podFiles(t, newKeyring(t, 1, 1))
	cfg.Schedule = syncconfig.Schedule{Cron: "every tuesday"}
	body, _ := syncconfig.Marshal(cfg)
	if err := os.WriteFile(badSchedule, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	noHosts, cfg := podFiles(t, newKeyring(t, 1, 1))
	cfg.Destination.AllowedHosts = nil
	body, _ = syncconfig.Marshal(cfg)
	if err := os.WriteFile(noHosts, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	unlistedStore, cfg := podFiles(t, newKeyring(t, 1, 1))
	cfg.Store = syncconfig.Store{DSN: "postgres://sync@db.attacker.example/acme?sslmode=verify-full", AllowedHosts: []string{"db.acme.internal"}}
	body, _ = syncconfig.Marshal(cfg)
	if err := os.WriteFile(unlistedStore, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		path, want string
	}{
		"no keyring":          {noKeyring, "must be a consumer of its tenant's KeyPolicy"},
		"no allowed hosts":    {noHosts, "destination.allowedHosts is empty"},
		"unlisted store host": {unlistedStore, "store.dsn: host db.attacker.example:5432 is not allowed"},
		"bad cron":            {badSchedule, `schedule cron "every tuesday"`},
		"missing config":      {filepath.Join(t.TempDir(), "absent.yaml"), "reading the sync configuration"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			factory := func(system, _ string, _ []string, _ connector.Credentials, _ string, _ ConnectorStores, _ logr.Logger) (connector.Connector, error) {
				return fakeSystem{Source: &pagedSource{failAt: -1}, Destination: newMemoryDestination(), name: system}, nil
			}
			err := Run(context.Background(), Options{ConfigPath: tc.path, NewConnector: factory, Log: testr.New(t)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
