package connector

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fake is a TLS test server that records the requests it saw.
type fake struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
}

func newFake(t *testing.T, handler http.Handler) *fake {
	t.Helper()
	f := &fake{}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.Clone(context.Background()))
		f.mu.Unlock()
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

// seen counts the requests whose path starts with prefix.
func (f *fake) seen(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if strings.HasPrefix(r.URL.Path, prefix) {
			n++
		}
	}
	return n
}

// countingServer is a plain-HTTP server that only counts what reaches it.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func rootsOf(srv *httptest.Server) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return pool
}

// testOptions trust srv, use pages of two and retry fast.
func testOptions(srv *httptest.Server) Options {
	return Options{
		RootCAs:        rootsOf(srv),
		PageSize:       2,
		MaxAttempts:    3,
		InitialBackoff: time.Millisecond,
		MaxBackoff:     2 * time.Millisecond,
		MaxRetryAfter:  40 * time.Millisecond,
		TokenURL:       srv.URL + "/token",
		Timeout:        5 * time.Second,
	}
}

func oauthCreds(extra map[string]string) Credentials {
	c := Credentials{"client_id": []byte("cid"), "client_secret": []byte("csecret\n"), "refresh_token": []byte("rt-1")}
	for k, v := range extra {
		c[k] = []byte(v)
	}
	return c
}

// tokenServer hands out access-1, access-2, ... for the refresh token rt-1; the API side treats
// the first one as expired, so every OAuth2 test goes through one 401 and a refresh.
//
// With rotating set it behaves like Intuit: each refresh hands out a new refresh token (rt-2,
// rt-3, ...) and accepts only the newest one from then on.
type tokenServer struct {
	issued   atomic.Int64
	rotating bool
}

func (ts *tokenServer) currentRefreshToken() string {
	if !ts.rotating {
		return "rt-1"
	}
	return fmt.Sprintf("rt-%d", ts.issued.Load()+1)
}

func (ts *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "refresh_token" || r.Form.Get("refresh_token") != ts.currentRefreshToken() {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "token rt-x revoked"})
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
	}
	if id != "cid" || secret != "csecret" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	n := ts.issued.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": fmt.Sprintf("access-%d", n), "token_type": "Bearer", "expires_in": 3600, "refresh_token": ts.currentRefreshToken(),
	})
}

// gate serves the token endpoint and lets through only API calls with a valid access token.
func (ts *tokenServer) gate(w http.ResponseWriter, r *http.Request, scheme string) bool {
	if r.URL.Path == "/token" {
		ts.ServeHTTP(w, r)
		return false
	}
	return authorized(w, r, scheme)
}

// authorized checks the Authorization header and answers 401 to the expired first token.
func authorized(w http.ResponseWriter, r *http.Request, scheme string) bool {
	got := r.Header.Get("Authorization")
	if !strings.HasPrefix(got, scheme+" access-") || got == scheme+" access-1" {
		w.WriteHeader(http.StatusUnauthorized)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func mustNew(t *testing.T, system, baseURL string, creds Credentials, o Options) Connector {
	t.Helper()
	c, err := New(system, baseURL, creds, o)
	if err != nil {
		t.Fatalf("New(%s): %v", system, err)
	}
	return c
}

// readAll drains a source from the empty cursor and returns every page.
func readAll(t *testing.T, src Source) []Page {
	t.Helper()
	var pages []Page
	cursor := ""
	for range 10 {
		page, err := src.Changes(context.Background(), cursor)
		if err != nil {
			t.Fatalf("Changes(%q): %v", cursor, err)
		}
		pages = append(pages, page)
		cursor = page.Next
		if !page.More {
			return pages
		}
	}
	t.Fatal("source did not finish within 10 pages")
	return nil
}

func ids(pages []Page) []string {
	var out []string
	for _, p := range pages {
		for _, r := range p.Records {
			out = append(out, r.ID)
		}
	}
	return out
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// wantScan checks that a scan read the records in order over exactly two pages.
func wantScan(t *testing.T, pages []Page, want ...string) {
	t.Helper()
	if got := ids(pages); !slices.Equal(got, want) || len(pages) != 2 || !pages[0].More || pages[1].More {
		t.Fatalf("records = %v over %d pages, want %v over 2, the first with More", got, len(pages), want)
	}
}

// wantOneRefresh checks that the expired first token was replaced exactly once.
func wantOneRefresh(t *testing.T, tokens *tokenServer) {
	t.Helper()
	if n := tokens.issued.Load(); n != 2 {
		t.Errorf("token endpoint issued %d tokens, want 2 (one refresh after the 401)", n)
	}
}
