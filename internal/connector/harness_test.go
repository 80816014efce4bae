package connector

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
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

// testTokens is the token endpoint for oauthCreds. The API side treats the first token as
// expired, so every OAuth2 test goes through one 401 and a refresh.
func testTokens() *fakesystem.Tokens {
	return &fakesystem.Tokens{ClientID: "cid", ClientSecret: "csecret", RefreshToken: "rt-1", ExpireFirst: true}
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
func wantOneRefresh(t *testing.T, tokens *fakesystem.Tokens) {
	t.Helper()
	if n := tokens.Issued(); n != 2 {
		t.Errorf("token endpoint issued %d tokens, want 2 (one refresh after the 401)", n)
	}
}
