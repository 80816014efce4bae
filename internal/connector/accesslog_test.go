package connector

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"

	webhookcodec "github.com/tenantwire/tenantwire/internal/connector/webhook"
)

func TestRouteOfHidesIDs(t *testing.T) {
	cases := map[string]struct{ system, path, want string }{
		"cerbo list":                      {SystemCerbo, "/patients", "/patients"},
		"cerbo patient":                   {SystemCerbo, "/patients/73910482", "/patients/{id}"},
		"cerbo empty id":                  {SystemCerbo, "/patients/", unlistedRoute},
		"quickbooks query":                {SystemQuickBooks, "/v3/company/9130357788123456/query", "/v3/company/{realm}/query"},
		"quickbooks customer":             {SystemQuickBooks, "/v3/company/9130357788123456/customer/58", "/v3/company/{realm}/customer/{id}"},
		"quickbooks write":                {SystemQuickBooks, "/v3/company/9130357788123456/customer", "/v3/company/{realm}/customer"},
		"zoho upsert":                     {SystemZoho, "/crm/v8/Contacts/upsert", "/crm/v8/Contacts/upsert"},
		"zoho update":                     {SystemZoho, "/crm/v8/Contacts/5725767000000524157", "/crm/v8/Contacts/{id}"},
		"gohighlevel upsert is literal":   {SystemGoHighLevel, "/contacts/upsert", "/contacts/upsert"},
		"gohighlevel contact":             {SystemGoHighLevel, "/contacts/ocQHyuzHvysMo5N5VsXc", "/contacts/{id}"},
		"gohighlevel search is literal":   {SystemGoHighLevel, "/contacts/search", "/contacts/search"},
		"webhook":                         {SystemWebhook, "", ""},
		"a path no adapter calls":         {SystemCerbo, "/patients/73910482/notes", unlistedRoute},
		"another system's path":           {SystemZoho, "/patients/73910482", unlistedRoute},
		"a system without templates":      {"other", "/x", unlistedRoute},
		"a webhook path is never printed": {SystemWebhook, "/hook/tok-secret", unlistedRoute},
	}
	for name, tc := range cases {
		if got := routeOf(tc.system, tc.path); got != tc.want {
			t.Errorf("%s: routeOf(%s, %q) = %q, want %q", name, tc.system, tc.path, got, tc.want)
		}
	}
}

// TestWebhookReceiverLogsEveryRequestWithoutItsContent plays senders of a webhook source: a good
// delivery, forged and stale ones whose bodies carry a patient, a GET, and a path and query string
// that carry a token. Each request gets one access log line naming the sender's IP and
// User-Agent and the answer; none carries the body, the path, the query, a header or the secret.
func TestWebhookReceiverLogsEveryRequestWithoutItsContent(t *testing.T) {
	const (
		secret     = "whsec-PLANTED-n4Rb8"
		patient    = "Zebediah Quartermaine"
		recordID   = "rec-PLANTED-73910482"
		pathToken  = "tok-PLANTED-path"
		queryToken = "tok-PLANTED-query"
		authToken  = "Bearer tok-PLANTED-header"
	)
	var mu sync.Mutex
	var lines []string
	log := funcr.NewJSON(func(obj string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, obj)
	}, funcr.Options{Verbosity: 1})
	now := ts("2026-03-01T12:00:00Z")
	o := Options{Now: func() time.Time { return now }, Logger: log}
	w := mustNew(t, SystemWebhook, "https://example.invalid", Credentials{"signing_secret": []byte(secret)}, o).(*webhook)
	delivery := func(key string, sentAt time.Time) []byte {
		b, _ := json.Marshal(webhookcodec.Delivery{ID: recordID, IdempotencyKey: key, SentAt: sentAt,
			Patient: webhookcodec.Patient{Name: &webhookcodec.Name{Display: patient}}})
		return b
	}
	signed := func(b []byte) string { return "sha256=" + hex.EncodeToString(sign([]byte(secret), b)) }
	good, stale := delivery("k1", now), delivery("k2", now.Add(-time.Hour))
	requests := []struct {
		method, target string
		body           []byte
		signature      string
		wantStatus     int
		wantRefusal    string
	}{
		{http.MethodPost, "/", good, signed(good), http.StatusAccepted, ""},
		{http.MethodPost, "/hook/" + pathToken + "?key=" + queryToken, delivery("k3", now), signed(good), http.StatusUnauthorized, "bad signature"},
		{http.MethodPost, "/", delivery("k4", now), "", http.StatusUnauthorized, "bad signature"},
		{http.MethodPost, "/", stale, signed(stale), http.StatusUnauthorized, "stale delivery: sent_at is outside the replay window"},
		{http.MethodGet, "/?patient=" + queryToken, nil, "", http.StatusMethodNotAllowed, "method not allowed"},
	}
	for _, r := range requests {
		req := httptest.NewRequest(r.method, r.target, bytes.NewReader(r.body))
		req.RemoteAddr = "203.0.113.7:52114"
		req.Header.Set("User-Agent", "VendorHooks/2.1")
		req.Header.Set("Authorization", authToken)
		if r.signature != "" {
			req.Header.Set(SignatureHeader, r.signature)
		}
		w.Handler().ServeHTTP(httptest.NewRecorder(), req)
	}

	var access []map[string]any
	for _, l := range lines {
		for _, planted := range []string{secret, patient, recordID, pathToken, queryToken, authToken, "/hook"} {
			if strings.Contains(l, planted) {
				t.Errorf("a log line holds %q: %s", planted, l)
			}
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		if m["msg"] == accessWebhook {
			access = append(access, m)
		}
	}
	if len(access) != len(requests) {
		t.Fatalf("%d webhook access lines for %d requests:\n%s", len(access), len(requests), strings.Join(lines, "\n"))
	}
	for i, r := range requests {
		got := access[i]
		if got["sourceIP"] != "203.0.113.7" || got["userAgent"] != "VendorHooks/2.1" || got["method"] != r.method ||
			got["status"] != float64(r.wantStatus) || got["latencyMs"] == nil || got["system"] != SystemWebhook {
			t.Errorf("request %d: access line %v, want source IP, User-Agent, method %s, status %d, latency, system", i, got, r.method, r.wantStatus)
		}
		if refusal, _ := got["refusal"].(string); refusal != r.wantRefusal {
			t.Errorf("request %d: refusal %q, want %q", i, refusal, r.wantRefusal)
		}
	}
}
