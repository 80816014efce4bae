package syncrun_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
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
	"github.com/go-logr/logr/testr"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/connector/cerbo"
	"github.com/tenantwire/tenantwire/internal/connector/quickbooks"
	webhookcodec "github.com/tenantwire/tenantwire/internal/connector/webhook"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/record"
	"github.com/tenantwire/tenantwire/internal/record/recordtest"
	"github.com/tenantwire/tenantwire/internal/store"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
	"github.com/tenantwire/tenantwire/internal/syncrun"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// The planted Cerbo patient: a clinical note, a questionnaire answer and a date of birth, each a
// value that appears nowhere else, beside the fields a practice typically authorizes.
const (
	plantedCerboID       = "48213"
	plantedClinicalNote  = "CLINICAL-NOTE-7c1e suspected thyroid nodule"
	plantedAnswer        = "QUESTIONNAIRE-ANSWER-93ab"
	plantedDateOfBirth   = "1961-11-23"
	plantedFamilyName    = "Quillfeather"
	plantedCerboResponse = `{"data": [{
		"id": 48213, "updated_at": "2026-11-25T08:00:00Z",
		"first_name": "Ignatia", "last_name": "Quillfeather", "dob": "1961-11-23", "sex": "F",
		"email1": "ignatia.q@example.org", "phone_mobile": "+1 555 0199",
		"address1": "77 Larkspur Row", "city": "Wexford Falls", "state": "NV", "zip": "89011",
		"clinical_notes": "CLINICAL-NOTE-7c1e suspected thyroid nodule",
		"questionnaires": [{"question": "Any new symptoms?", "answer": "QUESTIONNAIRE-ANSWER-93ab"}]
	}], "total": 1}`
)

// dateOfBirthForms are the planted date of birth in every form a destination might carry it.
var dateOfBirthForms = []string{plantedDateOfBirth, "11/23/1961", "23/11/1961", "1961/11/23", "19611123"}

// capture is a TLS server that keeps the body of every write it receives.
type capture struct {
	*httptest.Server
	mu     sync.Mutex
	writes [][]byte
}

func (c *capture) keep(body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, body)
}

func (c *capture) bodies() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.writes...)
}

func answer(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// plantedCerbo answers the patient list with the planted patient, once.
func plantedCerbo(t *testing.T) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/api/v1/patients" {
			answer(w, http.StatusNotFound, `{"error":"not_found"}`)
			return
		}
		if r.URL.Query().Get("offset") != "0" || r.URL.Query().Get("updated_since") != "" {
			answer(w, http.StatusOK, `{"data": [], "total": 1}`)
			return
		}
		answer(w, http.StatusOK, plantedCerboResponse)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// strictQuickBooks is one QuickBooks company that, like Intuit, refuses a Customer body that
// breaks the published Customer definition, and keeps every body it was sent.
func strictQuickBooks(t *testing.T) *capture {
	def, err := quickbooks.CustomerDefinition()
	if err != nil {
		t.Fatal(err)
	}
	c := &capture{}
	c.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/token":
			answer(w, http.StatusOK, `{"access_token":"access-1","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-1"}`)
		case r.Method == http.MethodPost && r.URL.Path == "/v3/company/1/customer":
			body, _ := io.ReadAll(r.Body)
			c.keep(body)
			if v := def.Check(body); len(v) != 0 {
				status, fault := quickbooks.Refusal(v)
				answer(w, status, string(fault))
				return
			}
			answer(w, http.StatusOK, `{"Customer":{"Id":"77","SyncToken":"0"}}`)
		case r.Method == http.MethodPost && r.URL.Path == "/v3/company/1/batch":
			// The whole batch body is kept: nothing in it may carry what was not authorized.
			body, _ := io.ReadAll(r.Body)
			c.keep(body)
			var batch struct {
				Items []struct {
					BID      string          `json:"bId"`
					Customer json.RawMessage `json:"Customer"`
				} `json:"BatchItemRequest"`
			}
			if err := json.Unmarshal(body, &batch); err != nil {
				answer(w, http.StatusBadRequest, `{}`)
				return
			}
			var items []string
			for _, item := range batch.Items {
				if v := def.Check(item.Customer); len(v) != 0 {
					_, fault := quickbooks.Refusal(v)
					items = append(items, fmt.Sprintf(`{"bId":%q,"Fault":%s}`, item.BID, bytes.TrimSuffix(bytes.TrimPrefix(fault, []byte(`{"Fault":`)), []byte("}"))))
					continue
				}
				items = append(items, fmt.Sprintf(`{"bId":%q,"Customer":{"Id":"77","SyncToken":"0"}}`, item.BID))
			}
			answer(w, http.StatusOK, `{"BatchItemResponse":[`+strings.Join(items, ",")+`]}`)
		default:
			answer(w, http.StatusNotFound, `{}`)
		}
	}))
	t.Cleanup(c.Close)
	return c
}

// webhookReceiver keeps every delivery and answers with its own ID.
func webhookReceiver(t *testing.T) *capture {
	c := &capture{}
	c.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.keep(body)
		answer(w, http.StatusCreated, `{"id":"hook-1"}`)
	}))
	t.Cleanup(c.Close)
	return c
}

// runOneCycle runs the sync runtime as a pod would, from Cerbo to the destination with the given
// authorized fields, until the destination received a write or the runtime stopped.
func runOneCycle(t *testing.T, destination string, dst *capture, fields []string) error {
	t.Helper()
	src := plantedCerbo(t)
	dir := t.TempDir()
	addrs, err := testenv.FreeLoopbackAddrs(2)
	if err != nil {
		t.Fatal(err)
	}
	health, metrics := addrs[0], addrs[1]
	host := func(s *httptest.Server) string { u, _ := url.Parse(s.URL); return u.Host }
	cfg := syncconfig.Config{
		Tenant: "acme", Integration: "cerbo-to-" + destination,
		Source: syncconfig.Endpoint{System: "cerbo", URL: src.URL + "/api/v1", CredentialsDir: filepath.Join(dir, "source"),
			AllowedHosts: []string{host(src)}},
		Destination: syncconfig.Endpoint{System: destination, URL: dst.URL, CredentialsDir: filepath.Join(dir, "destination"),
			AllowedHosts: []string{host(dst.Server)}},
		Schedule: syncconfig.Schedule{Interval: "1h"},
		Fields:   fields,
		TLS:      syncconfig.TLS{MinVersion: "1.2"},
		StateDir: filepath.Join(dir, "state"), KeyringFile: filepath.Join(dir, "keyring", keyring.DataKey),
		HealthAddr: health, MetricsAddr: metrics,
	}
	files := map[string]string{
		filepath.Join(cfg.Source.CredentialsDir, "username"): "api-user",
		filepath.Join(cfg.Source.CredentialsDir, "api_key"):  "k3y",
	}
	dstCreds := map[string]string{"signing_secret": "shh"}
	if destination == connector.SystemQuickBooks {
		dstCreds = map[string]string{"client_id": "cid", "client_secret": "cs", "refresh_token": "rt-1", "realm_id": "1", "token_url": dst.URL + "/token"}
	}
	for name, v := range dstCreds {
		files[filepath.Join(cfg.Destination.CredentialsDir, name)] = v
	}
	kr, err := testKeyring(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	files[cfg.KeyringFile] = string(kr)
	body, err := syncconfig.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	configPath := filepath.Join(dir, syncconfig.FileName)
	files[configPath] = body
	for path, content := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}

	roots := x509.NewCertPool()
	roots.AddCert(src.Certificate())
	roots.AddCert(dst.Certificate())
	factory := func(system, u string, allowed []string, creds connector.Credentials, minTLS string, stores syncrun.ConnectorStores, log logr.Logger) (connector.Connector, error) {
		return connector.New(system, u, creds, connector.Options{MinTLSVersion: minTLS, AllowedHosts: allowed, RootCAs: roots,
			RefreshTokens: stores.RefreshTokens, Webhook: connector.WebhookOptions{Deliveries: stores.Deliveries}, Logger: log, MaxAttempts: 1})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- syncrun.Run(ctx, syncrun.Options{ConfigPath: configPath, NewConnector: factory, Log: testr.New(t)})
	}()
	deadline := time.After(15 * time.Second)
	for len(dst.bodies()) == 0 {
		select {
		case err := <-done:
			return err
		case <-deadline:
			t.Fatal("the destination received no write within 15s")
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	return <-done
}

func testKeyring(t *testing.T) *keyring.Keyring {
	t.Helper()
	m, err := keyring.NewMaterial(nil)
	if err != nil {
		t.Fatal(err)
	}
	return keyring.Rotate(nil, "AES-256-GCM", m, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 1)
}

// assertNeverSent fails the test for each value found in any body the destination received.
func assertNeverSent(t *testing.T, bodies [][]byte, values ...string) {
	t.Helper()
	for i, body := range bodies {
		for _, v := range values {
			if bytes.Contains(body, []byte(v)) {
				t.Errorf("write %d to the destination carries %q:\n%s", i, v, body)
			}
		}
	}
}

// TestOnlyAuthorizedFieldsLeaveThePractice plants a clinical note, a questionnaire answer and a
// date of birth in a Cerbo patient and runs the sync runtime against a strict QuickBooks and a
// webhook receiver, authorized for [name, email, phone]. Byte for byte, no write carries any of
// them, nor the patient's Cerbo ID; the authorized name does arrive, so the test can tell a
// filtered write from no write.
func TestOnlyAuthorizedFieldsLeaveThePractice(t *testing.T) {
	for _, destination := range []string{connector.SystemQuickBooks, connector.SystemWebhook} {
		t.Run(destination, func(t *testing.T) {
			dst := webhookReceiver(t)
			if destination == connector.SystemQuickBooks {
				dst = strictQuickBooks(t)
			}
			if err := runOneCycle(t, destination, dst, []string{"name", "email", "phone"}); err != nil {
				t.Fatalf("Run: %v", err)
			}
			bodies := dst.bodies()
			assertNeverSent(t, bodies, append([]string{plantedClinicalNote, "CLINICAL-NOTE-7c1e", plantedAnswer, plantedCerboID,
				"clinical_notes", "questionnaires", "77 Larkspur Row"}, dateOfBirthForms...)...)
			for i, body := range bodies {
				if !bytes.Contains(body, []byte(plantedFamilyName)) || !bytes.Contains(body, []byte("ignatia.q@example.org")) {
					t.Errorf("write %d lacks the authorized name or email:\n%s", i, body)
				}
				if destination == connector.SystemWebhook {
					if v, err := webhookcodec.CheckDelivery(body); err != nil || len(v) != 0 {
						t.Errorf("delivery %d breaks the published schema: %v %v", i, v, err)
					}
				}
			}
		})
	}
}

// TestAnAuthorizedDateOfBirthReachesTheWebhook is the other side of the same proof: with
// dateOfBirth authorized, the date does reach a destination that can hold it, and the clinical
// note and questionnaire answer still do not.
func TestAnAuthorizedDateOfBirthReachesTheWebhook(t *testing.T) {
	dst := webhookReceiver(t)
	if err := runOneCycle(t, connector.SystemWebhook, dst, []string{"name", "dateOfBirth"}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	bodies := dst.bodies()
	assertNeverSent(t, bodies, plantedClinicalNote, plantedAnswer, plantedCerboID, "ignatia.q@example.org")
	for i, body := range bodies {
		var d webhookcodec.Delivery
		if err := json.Unmarshal(body, &d); err != nil || d.Patient.DateOfBirth != plantedDateOfBirth {
			t.Errorf("delivery %d: dateOfBirth %q (%v), want %s:\n%s", i, d.Patient.DateOfBirth, err, plantedDateOfBirth, body)
		}
	}
}

// TestTheRuntimeRefusesToStartWithoutAuthorizedFields plays a sync.yaml without fields (an
// operator that predates them, or an edit): the runtime must not read that as "everything".
func TestTheRuntimeRefusesToStartWithoutAuthorizedFields(t *testing.T) {
	for name, fields := range map[string][]string{"none": nil, "unknown": {"name", "clinicalNotes"}} {
		t.Run(name, func(t *testing.T) {
			dst := webhookReceiver(t)
			err := runOneCycle(t, connector.SystemWebhook, dst, fields)
			if err == nil || !strings.Contains(err.Error(), "fields") {
				t.Errorf("Run = %v, want a refusal naming the fields", err)
			}
			if n := len(dst.bodies()); n != 0 {
				t.Errorf("the destination received %d writes", n)
			}
		})
	}
}

// cerboDestination is a practice's Cerbo taking patients, keeping every body it was sent.
func cerboDestination(t *testing.T) *capture {
	c := &capture{}
	c.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.keep(body)
		answer(w, http.StatusCreated, `{"id": 9001}`)
	}))
	t.Cleanup(c.Close)
	return c
}

// onePatient is a source with one changed record: the planted patient of recordtest.
type onePatient struct{}

func (onePatient) Changes(context.Context, string) (connector.Page, error) {
	p := recordtest.Planted()
	return connector.Page{Records: []connector.Record{{ID: p.Source.ID, PatientID: p.Source.ID, UpdatedAt: p.UpdatedAt, Patient: p}}, Next: "done"}, nil
}

// TestAuthorizeRunsBeforeEveryDestinationEncodes syncs the planted patient, every field set to a
// marker, under each authorization to each destination adapter this runtime writes with, and
// checks the bytes each destination received: exactly the authorized fields that the destination
// can hold, never another field and never the source's ID. Where the destination's codec needs a
// field that is not authorized (a QuickBooks or Cerbo create needs a name), nothing is sent and the
// record is counted rejected.
func TestAuthorizeRunsBeforeEveryDestinationEncodes(t *testing.T) {
	destinations := map[string]struct {
		server    func(*testing.T) *capture
		holds     record.Set
		needs     record.Set
		creds     func(url string) connector.Credentials
		sexInBody string
	}{
		connector.SystemQuickBooks: {server: strictQuickBooks, holds: quickbooks.Holds, needs: quickbooks.Needs,
			creds: func(u string) connector.Credentials {
				return connector.Credentials{"client_id": []byte("cid"), "client_secret": []byte("cs"), "refresh_token": []byte("rt-1"),
					"realm_id": []byte("1"), "token_url": []byte(u + "/token")}
			}},
		connector.SystemWebhook: {server: webhookReceiver, holds: webhookcodec.Holds,
			creds: func(string) connector.Credentials { return connector.Credentials{"signing_secret": []byte("shh")} }},
		// Cerbo writes sex as a one-letter code, which recordtest's markers do not cover.
		connector.SystemCerbo: {server: cerboDestination, holds: cerbo.Holds, needs: cerbo.Needs, sexInBody: `"sex":"F"`,
			creds: func(string) connector.Credentials {
				return connector.Credentials{"username": []byte("u"), "api_key": []byte("k")}
			}},
	}
	for system, dest := range destinations {
		for name, fields := range recordtest.FieldSets() {
			t.Run(system+"/"+name, func(t *testing.T) {
				dst := dest.server(t)
				roots := x509.NewCertPool()
				roots.AddCert(dst.Certificate())
				u, _ := url.Parse(dst.URL)
				adapter, err := connector.New(system, dst.URL, dest.creds(dst.URL), connector.Options{AllowedHosts: []string{u.Host}, RootCAs: roots, MaxAttempts: 1})
				if err != nil {
					t.Fatal(err)
				}
				st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "mapping.db"))
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = st.Close() }()
				s := &syncrun.Syncer{Integration: "planted", SourceSystem: "source", DestSystem: system,
					Source: onePatient{}, Destination: adapter, Fields: fields, Store: st,
					Codec: mappingseal.Codec{Tenant: "acme", Keyring: testKeyring(t)}, Metrics: syncrun.NewMetrics(), Log: testr.New(t), Now: time.Now}
				res, err := s.Cycle(context.Background())
				if len(fields.Fields()) == 0 {
					if err == nil || len(dst.bodies()) != 0 {
						t.Fatalf("a Syncer without authorized fields ran: %v, %d writes", err, len(dst.bodies()))
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if missing := fields.Missing(dest.needs); len(missing) != 0 {
					if res.Rejected != 1 || len(dst.bodies()) != 0 {
						t.Fatalf("without %v: %+v and %d writes, want the record rejected before a write", missing, res, len(dst.bodies()))
					}
					return
				}
				bodies := dst.bodies()
				if res.Created != 1 || len(bodies) != 1 {
					t.Fatalf("%+v with %d writes, want one create", res, len(bodies))
				}
				want := fields.Intersect(dest.holds)
				if dest.sexInBody != "" {
					if got := bytes.Contains(bodies[0], []byte(dest.sexInBody)); got != want.Has(record.FieldSex) {
						t.Errorf("sex in the body: %v, authorized and held: %v", got, want.Has(record.FieldSex))
					}
					want = want.Intersect(record.NewSet(record.FieldName, record.FieldEmail, record.FieldPhone, record.FieldDateOfBirth, record.FieldAddress))
				}
				recordtest.AssertOnly(t, bodies[0], want)
			})
		}
	}
}
