package connector

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
)

// fakeGoHighLevel speaks gohighlevel.go's documented shape for location loc-1, behind testTokens;
// its first list call is rate limited.
type fakeGoHighLevel struct {
	tokens  *fakesystem.Tokens
	limited atomic.Bool
	mu      sync.Mutex
	bodies  []map[string]any
}

func (f *fakeGoHighLevel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !f.tokens.Authorize(w, r, "Bearer") {
		return
	}
	if r.Header.Get("Version") != "2021-07-28" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "missing Version"})
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/contacts/":
		if !f.limited.Swap(true) {
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Interval-Milliseconds", "20")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		q := r.URL.Query()
		if q.Get("locationId") != "loc-1" || q.Get("limit") != "2" {
			w.WriteHeader(http.StatusUnprocessableEntity)
			return
		}
		switch q.Get("startAfterId") {
		case "":
			writeJSON(w, http.StatusOK, map[string]any{
				"contacts": []any{map[string]any{"id": "g1", "dateUpdated": "2026-01-01T00:00:00.000Z"}, map[string]any{"id": "g2", "dateAdded": "2026-01-02T00:00:00.000Z"}},
				"meta":     map[string]any{"startAfterId": "g2", "startAfter": 1767312000000, "total": 3}})
		case "g2":
			if q.Get("startAfter") != "1767312000000" {
				w.WriteHeader(http.StatusUnprocessableEntity)
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{
				"contacts": []any{map[string]any{"id": "g3", "dateUpdated": "2026-01-03T00:00:00.000Z"}},
				"meta":     map[string]any{"startAfterId": "g3", "startAfter": 1767398400000, "total": 3}})
		default:
			writeJSON(w, http.StatusOK, map[string]any{"contacts": []any{}, "meta": map[string]any{"total": 3}})
		}
	case r.Method == http.MethodPost && r.URL.Path == "/contacts/upsert", r.Method == http.MethodPut && r.URL.Path == "/contacts/g7":
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.mu.Lock()
		f.bodies = append(f.bodies, body)
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"new": r.Method == http.MethodPost, "contact": map[string]any{"id": "g7"}})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

var goHighLevelCreds = oauthCreds(map[string]string{"location_id": "loc-1"})

func TestGoHighLevelChangesPaginatesThroughRateLimitAndRefresh(t *testing.T) {
	fg := &fakeGoHighLevel{tokens: testTokens()}
	srv := newFake(t, fg)
	o := testOptions(srv.Server)
	var waits []time.Duration
	o.OnRetry = func(_ error, wait time.Duration) { waits = append(waits, wait) }
	c := mustNew(t, SystemGoHighLevel, srv.URL, goHighLevelCreds, o)
	pages := readAll(t, c)
	wantScan(t, pages, "g1", "g2", "g3")
	wantOneRefresh(t, fg.tokens)
	if !slices.Equal(waits, []time.Duration{20 * time.Millisecond}) {
		t.Errorf("waits = %v, want the 20ms rate-limit interval once", waits)
	}
	if got := pages[0].Records[1].UpdatedAt; !got.Equal(ts("2026-01-02T00:00:00Z")) {
		t.Errorf("UpdatedAt without dateUpdated = %v, want dateAdded", got)
	}
	// The next cycle resumes after g3 and finds nothing new.
	next, err := c.Changes(context.Background(), pages[1].Next)
	if err != nil || len(next.Records) != 0 || next.Next != pages[1].Next {
		t.Fatalf("next cycle = %+v, %v; want empty, keeping the cursor", next, err)
	}
}

func TestGoHighLevelUpsert(t *testing.T) {
	fg := &fakeGoHighLevel{tokens: testTokens()}
	fg.limited.Store(true)
	srv := newFake(t, fg)
	c := mustNew(t, SystemGoHighLevel, srv.URL, goHighLevelCreds, testOptions(srv.Server))
	id, err := c.Upsert(context.Background(), "", Record{Fields: map[string]any{"email": "a@example.com"}})
	if err != nil || id != "g7" || fg.bodies[0]["locationId"] != "loc-1" {
		t.Fatalf("create = %q, %v with body %v; want g7 with the location", id, err, fg.bodies[0])
	}
	id, err = c.Upsert(context.Background(), "g7", Record{Fields: map[string]any{"email": "b@example.com", "locationId": "other"}})
	if err != nil || id != "g7" {
		t.Fatalf("update = %q, %v", id, err)
	}
	if _, ok := fg.bodies[1]["locationId"]; ok || fg.bodies[1]["email"] != "b@example.com" {
		t.Errorf("PUT body = %v, want the fields without locationId", fg.bodies[1])
	}
}

func TestMissingCredentialsNamed(t *testing.T) {
	tests := map[string]struct {
		system string
		creds  Credentials
		want   string
	}{
		"cerbo":       {SystemCerbo, Credentials{"username": []byte("u")}, "missing credential file(s) api_key"},
		"quickbooks":  {SystemQuickBooks, Credentials{"client_id": []byte("secret-id")}, "missing credential file(s) client_secret, realm_id, refresh_token"},
		"zoho":        {SystemZoho, Credentials{"client_secret": []byte("secret-id"), "refresh_token": []byte("  \n")}, "missing credential file(s) client_id, refresh_token"},
		"gohighlevel": {SystemGoHighLevel, oauthCreds(nil), "missing credential file(s) location_id"},
		"webhook":     {SystemWebhook, nil, "missing credential file(s) signing_secret"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := New(tt.system, "https://example.invalid", tt.creds, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret-id") {
				t.Errorf("error leaks a value: %v", err)
			}
		})
	}
	if _, err := New("salesforce", "https://example.invalid", nil, Options{}); err == nil || !strings.Contains(err.Error(), `unknown system "salesforce"`) {
		t.Errorf("New(salesforce) = %v", err)
	}
}
