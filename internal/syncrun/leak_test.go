package syncrun

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
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

// What the leak test plants: a patient's name, birth date and ID in the source's records, and the
// credentials and QuickBooks realm in the mounted credential files. Each is distinctive enough
// that finding it anywhere in the output can only be a leak.
const (
	plantedFirstName    = "Zebediah"
	plantedLastName     = "Quartermaine"
	plantedDOB          = "1937-04-19"
	plantedPatientID    = 73910482
	plantedAPIKey       = "ak-PLANTED-9f3Kx2LmQ7"
	plantedClientSecret = "cs-PLANTED-W8vN1pRt4Y"
	plantedRefreshToken = "rt-PLANTED-Hq5Zs7Jd2E"
	plantedRealm        = "9130357788123456"
)

func plantedStrings() []string {
	return []string{plantedFirstName, plantedLastName, plantedDOB, fmt.Sprint(plantedPatientID), plantedAPIKey,
		plantedClientSecret, plantedRefreshToken, plantedRealm}
}

// echo is what a vendor says when it fails: everything planted, as vendors quote what they got.
var echo = fmt.Sprintf("patient %d %s %s born %s, key %s, token %s, secret %s, realm %s", plantedPatientID,
	plantedFirstName, plantedLastName, plantedDOB, plantedAPIKey, plantedRefreshToken, plantedClientSecret, plantedRealm)

// scripted answers chosen requests to a vendor with a failure and passes the others on: key
// "METHOD path", then the request's number among those with that key (1-based).
type scripted struct {
	next  http.Handler
	fails map[string]map[int]cannedAnswer

	mu   sync.Mutex
	seen map[string]int
}

type cannedAnswer struct {
	status     int
	retryAfter string
	body       string
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + r.URL.Path
	s.mu.Lock()
	s.seen[key]++
	answer, ok := s.fails[key][s.seen[key]]
	s.mu.Unlock()
	if !ok {
		s.next.ServeHTTP(w, r)
		return
	}
	if answer.retryAfter != "" {
		w.Header().Set("Retry-After", answer.retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(answer.status)
	_, _ = w.Write([]byte(answer.body))
}

// lockedBuffer is the runtime's log output; the runtime writes from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestNothingPlantedLeaksIntoLogsErrorsOrMetrics runs the runtime, with its own JSON logger at
// debug level, from a Cerbo to a QuickBooks that fail the way vendors do: a 401 on the API key, a
// 500 and a 429 on listing, a refused token refresh, an expired access token, a 400 refusal of a
// record and a 500 on writing, every failure body quoting the patient, the credentials and the
// realm. None of them may appear in a log line, in Run's error or in the metrics; and every vendor
// request and token refresh has its access log line, with the path as a template.
func TestNothingPlantedLeaksIntoLogsErrorsOrMetrics(t *testing.T) {
	cerboErr := func(code string) string {
		b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "field": "dob", "message": echo}})
		return string(b)
	}
	qbFault := func(code string) string {
		b, _ := json.Marshal(map[string]any{"Fault": map[string]any{"type": "ValidationFault",
			"Error": []any{map[string]any{"code": code, "element": "DisplayName", "Message": "Duplicate Name Exists Error", "Detail": echo}}}})
		return string(b)
	}
	patients := []map[string]any{
		{"id": plantedPatientID, "first_name": plantedFirstName, "last_name": plantedLastName, "dob": plantedDOB, "updated_at": "2026-01-03T00:00:00Z"},
		{"id": 2, "first_name": "Ann", "last_name": "Lee", "dob": "1980-01-01", "updated_at": "2026-01-02T00:00:00Z"},
		{"id": 3, "first_name": "Bo", "last_name": "Kim", "dob": "1990-02-02", "updated_at": "2026-01-01T00:00:00Z"},
	}
	cerbo := httptest.NewTLSServer(&scripted{next: fakesystem.NewCerbo("sync-user", plantedAPIKey, patients...), seen: map[string]int{},
		fails: map[string]map[int]cannedAnswer{"GET " + fakesystem.CerboBasePath + "/patients": {
			1: {status: http.StatusUnauthorized, body: cerboErr("invalid_credentials")},
			2: {status: http.StatusInternalServerError, body: cerboErr("internal")},
			3: {status: http.StatusTooManyRequests, retryAfter: "1", body: cerboErr("rate_limited")},
		}}})
	defer cerbo.Close()
	tokens := &fakesystem.Tokens{ClientID: "client", ClientSecret: plantedClientSecret, RefreshToken: plantedRefreshToken, ExpireFirst: true}
	batches := "POST /v3/company/" + plantedRealm + "/batch"
	// The batch's first item is refused with a fault that echoes the record; the others are written.
	itemFault := fmt.Sprintf(`{"BatchItemResponse":[{"bId":"0","Fault":%s},{"bId":"1","Customer":{"Id":"5"}},{"bId":"2","Customer":{"Id":"6"}}]}`,
		strings.TrimSuffix(strings.TrimPrefix(qbFault("6240"), `{"Fault":`), "}"))
	quickbooks := httptest.NewTLSServer(&scripted{next: fakesystem.NewQuickBooks(plantedRealm, tokens), seen: map[string]int{},
		fails: map[string]map[int]cannedAnswer{
			"POST " + fakesystem.TokenPath: {1: {status: http.StatusUnauthorized, body: `{"error":"invalid_client","error_description":"` + echo + `"}`}},
			// The first write is the fake's 401 on the expired access token.
			batches: {2: {status: http.StatusInternalServerError, body: qbFault("500")}, 3: {status: http.StatusOK, body: itemFault}},
		}})
	defer quickbooks.Close()

	configPath, cfg := podFiles(t, newKeyring(t, 1, 1))
	cerboURL, _ := url.Parse(cerbo.URL)
	qbURL, _ := url.Parse(quickbooks.URL)
	cfg.Source.URL, cfg.Source.AllowedHosts = cerbo.URL+fakesystem.CerboBasePath, []string{cerboURL.Host}
	cfg.Destination.URL, cfg.Destination.AllowedHosts = quickbooks.URL, []string{qbURL.Host}
	cfg.Schedule = syncconfig.Schedule{Interval: "100ms"}
	body, err := syncconfig.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	write := func(path, value string) {
		if err := os.WriteFile(path, []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(configPath, body)
	for name, value := range map[string]string{"username": "sync-user", "api_key": plantedAPIKey} {
		write(filepath.Join(cfg.Source.CredentialsDir, name), value)
	}
	for name, value := range map[string]string{"client_id": "client", "client_secret": plantedClientSecret,
		"refresh_token": plantedRefreshToken, "realm_id": plantedRealm, "token_url": quickbooks.URL + fakesystem.TokenPath} {
		write(filepath.Join(cfg.Destination.CredentialsDir, name), value)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cerbo.Certificate())
	roots.AddCert(quickbooks.Certificate())
	// main's factory, with the fakes' certificate trusted and retries in milliseconds.
	factory := func(system, u string, allowed []string, creds connector.Credentials, minTLS string, stores ConnectorStores, log logr.Logger) (connector.Connector, error) {
		return connector.New(system, u, creds, connector.Options{MinTLSVersion: minTLS, AllowedHosts: allowed, RootCAs: roots,
			RefreshTokens: stores.RefreshTokens, Logger: log, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxRetryAfter: 5 * time.Millisecond})
	}

	out := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{ConfigPath: configPath, NewConnector: factory, Log: NewLogger(out, zap.Level(zapcore.DebugLevel))})
	}()
	// Cycle 1 fails on Cerbo's 401, cycle 2 on the token endpoint's 401; cycle 3 rejects one record
	// and creates two; then the cycles are quiet.
	var metrics string
	testenv.Eventually(t, 30*time.Second, func() error {
		if n := strings.Count(out.String(), `"msg":"sync cycle finished"`); n < 2 {
			return fmt.Errorf("%d sync cycles finished, want 2", n)
		}
		_, metrics = get(t, "http://"+cfg.MetricsAddr+"/metrics")
		return nil
	})
	cancel()
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop on cancellation")
	}
	logs := out.String()

	for _, s := range plantedStrings() {
		if i := strings.Index(logs, s); i >= 0 {
			t.Errorf("the log holds the planted %q: ...%s...", s, logs[max(i-200, 0):min(i+100, len(logs))])
		}
		if runErr != nil && strings.Contains(runErr.Error(), s) {
			t.Errorf("Run's error holds the planted %q: %v", s, runErr)
		}
		if strings.Contains(metrics, s) {
			t.Errorf("the metrics hold the planted %q", s)
		}
	}
	if !strings.Contains(metrics, `tenantwire_sync_records_total{result="rejected"} 1`) {
		t.Errorf("the refused record is not counted as rejected; metrics:\n%s", metrics)
	}
	checkAccessLog(t, logs, cfg, cerboURL.Host, qbURL.Host)
}

// checkAccessLog checks that each failure the vendors were scripted to answer, and the requests
// that succeeded, have their access log line with every field an auditor needs.
func checkAccessLog(t *testing.T, logs string, cfg syncconfig.Config, cerboHost, qbHost string) {
	t.Helper()
	type line struct {
		Msg, Tenant, Integration, System, Op, Method, Host, Path, Outcome, Code string
		TS                                                                      json.RawMessage
		Status, Attempt                                                         int
		LatencyMs                                                               *int64
		RefreshTokenRotated                                                     *bool
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("a log line is not JSON: %v: %s", err, sc.Text())
		}
		if l.Msg != "vendor request" && l.Msg != "vendor token refresh" {
			continue
		}
		if len(l.TS) == 0 || l.Tenant != cfg.Tenant || l.Integration != cfg.Integration || l.System == "" || l.Host == "" || l.LatencyMs == nil {
			t.Errorf("access log line without time, tenant, integration, system, host or latency: %s", sc.Text())
		}
		if l.Msg == "vendor request" && (l.Method == "" || l.Op == "" || l.Attempt < 1 || l.Path == "{unlisted}") {
			t.Errorf("vendor request line without method, op, attempt or a listed path template: %s", sc.Text())
		}
		key := fmt.Sprintf("%s %s %s %s %d %d %s", l.Msg, l.System, l.Method, l.Path, l.Status, l.Attempt, l.Outcome)
		seen[key] = true
		if l.Host != cerboHost && l.Host != qbHost {
			t.Errorf("access log line names host %q, want one of the vendors': %s", l.Host, sc.Text())
		}
	}
	for _, want := range []string{
		"vendor request cerbo GET /patients 401 1 ",
		"vendor request cerbo GET /patients 500 1 ",
		"vendor request cerbo GET /patients 429 2 ",
		"vendor request cerbo GET /patients 200 3 ",
		"vendor token refresh quickbooks  /token 401 0 refused",
		"vendor token refresh quickbooks  /token 200 0 refreshed",
		"vendor request quickbooks POST /v3/company/{realm}/batch 401 1 ",
		"vendor request quickbooks POST /v3/company/{realm}/batch 500 1 ",
		"vendor request quickbooks POST /v3/company/{realm}/batch 200 2 ",
	} {
		if !seen[want] {
			t.Errorf("no access log line %q; have:\n%s", want, strings.Join(keysOf(seen), "\n"))
		}
	}
}

func keysOf(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
