package syncrun

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

const (
	writerNamespace   = "tenant-acme"
	writerSecret      = "cerbo-to-quickbooks-rotated-token"
	writerBearer      = "projected-token-PLANTED-4c2"
	writerSecretsPath = "/api/v1/namespaces/" + writerNamespace + "/secrets/"
)

// fakeSecretAPI is the API server as the token writer sees it: it lets the projected token
// merge-patch the one Secret, keeps what it was sent, and answers anything else 403 with a
// message that quotes the request, as the API server's messages may.
type fakeSecretAPI struct {
	*httptest.Server
	mu      sync.Mutex
	data    map[string]string
	patches []http.Header
}

func newFakeSecretAPI(t *testing.T) *fakeSecretAPI {
	a := &fakeSecretAPI{data: map[string]string{}}
	a.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPatch || r.URL.Path != writerSecretsPath+writerSecret || r.Header.Get("Authorization") != "Bearer "+writerBearer ||
			r.Header.Get("Content-Type") != "application/merge-patch+json" {
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(map[string]string{"kind": "Status", "reason": "Forbidden",
				"message": fmt.Sprintf("refused %s %s with body %s", r.Method, r.URL.Path, body)})
			return
		}
		var patch struct {
			Data map[string]string `json:"data"`
		}
		if err := json.Unmarshal(body, &patch); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		for k, v := range patch.Data {
			a.data[k] = v
		}
		a.patches = append(a.patches, r.Header.Clone())
		a.mu.Unlock()
		_, _ = io.WriteString(w, `{"kind":"Secret"}`)
	}))
	t.Cleanup(a.Close)
	return a
}

// value is the decoded value of one key of the Secret, "" while it has none.
func (a *fakeSecretAPI) value(key string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, _ := base64.StdEncoding.DecodeString(a.data[key])
	return string(b)
}

// rotatingQuickBooks is a Cerbo with patients and a QuickBooks whose token endpoint rotates the
// refresh token at each refresh, as Intuit's does.
type rotatingQuickBooks struct {
	cerbo, quickbooks *httptest.Server
	tokens            *fakesystem.Tokens
}

func newRotatingQuickBooks(t *testing.T) rotatingQuickBooks {
	patients := []map[string]any{
		{"id": 2, "first_name": "Ann", "last_name": "Lee", "updated_at": "2026-01-02T00:00:00Z"},
		{"id": 3, "first_name": "Bo", "last_name": "Kim", "updated_at": "2026-01-01T00:00:00Z"},
	}
	v := rotatingQuickBooks{tokens: &fakesystem.Tokens{ClientID: "client", ClientSecret: plantedClientSecret, RefreshToken: plantedRefreshToken, Rotating: true}}
	v.cerbo = httptest.NewTLSServer(fakesystem.NewCerbo("sync-user", plantedAPIKey, patients...))
	v.quickbooks = httptest.NewTLSServer(fakesystem.NewQuickBooks(plantedRealm, v.tokens))
	t.Cleanup(v.cerbo.Close)
	t.Cleanup(v.quickbooks.Close)
	return v
}

// startRotatingPod starts a sync pod with a store of its own (a fresh one each time) and the
// given refresh token mounted, writing rotated tokens back through api. It returns the pod's log
// and a stop function that returns Run's error.
func startRotatingPod(t *testing.T, v rotatingQuickBooks, api *fakeSecretAPI, mountedRefreshToken string) (*lockedBuffer, func() error) {
	t.Helper()
	configPath, cfg := podFiles(t, newKeyring(t, 1, 1))
	cerboURL, _ := url.Parse(v.cerbo.URL)
	qbURL, _ := url.Parse(v.quickbooks.URL)
	cfg.Source.URL, cfg.Source.AllowedHosts = v.cerbo.URL+fakesystem.CerboBasePath, []string{cerboURL.Host}
	cfg.Destination.URL, cfg.Destination.AllowedHosts = v.quickbooks.URL, []string{qbURL.Host}
	cfg.Schedule = syncconfig.Schedule{Interval: "100ms"}
	cfg.TokenWriter = &syncconfig.TokenWriter{Namespace: writerNamespace, Secret: writerSecret,
		Dir: filepath.Join(filepath.Dir(configPath), "token-writer"), Sides: []string{"destination"}}
	write := func(path, value string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	body, err := syncconfig.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	write(configPath, body)
	write(filepath.Join(cfg.TokenWriter.Dir, syncconfig.TokenWriterTokenFile), writerBearer+"\n")
	write(filepath.Join(cfg.TokenWriter.Dir, syncconfig.TokenWriterCAFile),
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.Certificate().Raw})))
	for name, value := range map[string]string{"username": "sync-user", "api_key": plantedAPIKey} {
		write(filepath.Join(cfg.Source.CredentialsDir, name), value)
	}
	for name, value := range map[string]string{"client_id": "client", "client_secret": plantedClientSecret,
		"refresh_token": mountedRefreshToken, "realm_id": plantedRealm, "token_url": v.quickbooks.URL + fakesystem.TokenPath} {
		write(filepath.Join(cfg.Destination.CredentialsDir, name), value)
	}
	roots := x509.NewCertPool()
	roots.AddCert(v.cerbo.Certificate())
	roots.AddCert(v.quickbooks.Certificate())
	factory := func(system, u string, allowed []string, creds connector.Credentials, minTLS string, stores ConnectorStores, log logr.Logger) (connector.Connector, error) {
		return connector.New(system, u, creds, connector.Options{MinTLSVersion: minTLS, AllowedHosts: allowed, RootCAs: roots,
			RefreshTokens: stores.RefreshTokens, Logger: log, MaxAttempts: 1})
	}
	out := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigPath: configPath, NewConnector: factory, APIServer: api.URL,
			Log: NewLogger(out, zap.Level(zapcore.DebugLevel))})
	}()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not stop on cancellation")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	return out, stop
}

// TestRotatedRefreshTokenIsWrittenBackAndNeverLogged: when the vendor rotates the refresh token,
// the runtime patches the new one into the rotated-token Secret, with the projected token, as a
// merge patch of that Secret alone; neither token appears in the log or in Run's error.
func TestRotatedRefreshTokenIsWrittenBackAndNeverLogged(t *testing.T) {
	v := newRotatingQuickBooks(t)
	api := newFakeSecretAPI(t)
	out, stop := startRotatingPod(t, v, api, plantedRefreshToken)
	key := syncconfig.RotatedTokenKey("destination")
	testenv.Eventually(t, 30*time.Second, func() error {
		if got, want := api.value(key), v.tokens.CurrentRefreshToken(); got != want || v.tokens.Issued() == 0 {
			return fmt.Errorf("the Secret's %s does not hold the vendor's current refresh token yet", key)
		}
		return nil
	})
	runErr := stop()
	logs := out.String()
	for _, s := range []string{plantedRefreshToken, v.tokens.CurrentRefreshToken(), writerBearer, plantedClientSecret} {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds a secret (%d characters)", len(s))
		}
		if runErr != nil && strings.Contains(runErr.Error(), s) {
			t.Errorf("Run's error holds a secret (%d characters)", len(s))
		}
	}
	if api.value(syncconfig.RefusedAtKey("destination")) != "" {
		t.Errorf("a refusal was recorded though the vendor refused nothing")
	}
}

// TestAPodWithAFreshStoreStartsFromTheWrittenBackToken is the loss the write-back closes: after
// a rotation, a pod that starts with another store (an emptyDir after a roll, a restored store)
// and the vault's original token is refused by the vendor, and records when; a pod that starts
// with the token the PushSecret wrote to the vault (what the rotated-token Secret holds, which
// ESO syncs into the credentials) syncs.
func TestAPodWithAFreshStoreStartsFromTheWrittenBackToken(t *testing.T) {
	v := newRotatingQuickBooks(t)
	api := newFakeSecretAPI(t)
	key := syncconfig.RotatedTokenKey("destination")
	_, stop := startRotatingPod(t, v, api, plantedRefreshToken)
	testenv.Eventually(t, 30*time.Second, func() error {
		if api.value(key) == "" || api.value(key) != v.tokens.CurrentRefreshToken() {
			return fmt.Errorf("no rotated token written back yet")
		}
		return nil
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	pushed := api.value(key)

	// The vault's original token, a fresh store: refused, and the refusal is recorded.
	stale, stopStale := startRotatingPod(t, v, api, plantedRefreshToken)
	testenv.Eventually(t, 30*time.Second, func() error {
		if api.value(syncconfig.RefusedAtKey("destination")) == "" {
			return fmt.Errorf("no refusal recorded; log:\n%s", stale.String())
		}
		return nil
	})
	if _, err := time.Parse(time.RFC3339, api.value(syncconfig.RefusedAtKey("destination"))); err != nil {
		t.Errorf("the refusal time is not RFC 3339: %v", err)
	}
	if err := stopStale(); err != nil {
		t.Fatal(err)
	}

	// The written-back token, a fresh store: the vendor accepts it and the sync runs.
	issued := v.tokens.Issued()
	fresh, stopFresh := startRotatingPod(t, v, api, pushed)
	testenv.Eventually(t, 30*time.Second, func() error {
		if v.tokens.Issued() == issued || !strings.Contains(fresh.String(), `"msg":"sync cycle finished"`) {
			return fmt.Errorf("the pod started from the written-back token has not finished a cycle; log:\n%s", fresh.String())
		}
		return nil
	})
	if err := stopFresh(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(fresh.String(), "AuthorizationRefused") || strings.Contains(fresh.String(), `"outcome":"refused"`) {
		t.Errorf("the vendor refused the written-back token")
	}
}

// TestTokenWriterErrorsCarryNoValue: the API server's refusal is reported by status and reason,
// never with its message, which may quote the patch.
func TestTokenWriterErrorsCarryNoValue(t *testing.T) {
	api := newFakeSecretAPI(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, syncconfig.TokenWriterTokenFile), []byte("not-the-projected-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, syncconfig.TokenWriterCAFile),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: api.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := syncconfig.Config{Source: syncconfig.Endpoint{System: "cerbo"}, Destination: syncconfig.Endpoint{System: "quickbooks"},
		TokenWriter: &syncconfig.TokenWriter{Namespace: writerNamespace, Secret: writerSecret, Dir: dir, Sides: []string{"destination"}}}
	w, err := newTokenWriter(cfg, api.URL)
	if err != nil {
		t.Fatal(err)
	}
	err = w.writeToken("quickbooks", plantedRefreshToken)
	if err == nil || !strings.Contains(err.Error(), "403 Forbidden") {
		t.Fatalf("writeToken = %v, want the API server's 403 Forbidden", err)
	}
	if strings.Contains(err.Error(), plantedRefreshToken) || strings.Contains(err.Error(), base64.StdEncoding.EncodeToString([]byte(plantedRefreshToken))) {
		t.Errorf("the error quotes the token: %v", err)
	}
	if err := w.writeToken("cerbo", "x"); err == nil {
		t.Errorf("a system that does not rotate was written")
	}
}
