package connector

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

var cerboCreds = Credentials{"username": []byte("api-user"), "api_key": []byte("k3y-value")}

func TestNewRefusesPlainHTTPBeforeAnyByte(t *testing.T) {
	plain, hits := countingServer(t)
	creds := map[string]Credentials{
		SystemCerbo:       cerboCreds,
		SystemQuickBooks:  oauthCreds(map[string]string{"realm_id": "123"}),
		SystemZoho:        oauthCreds(nil),
		SystemGoHighLevel: oauthCreds(map[string]string{"location_id": "loc"}),
		SystemWebhook:     {"signing_secret": []byte("s")},
	}
	for system, c := range creds {
		t.Run(system, func(t *testing.T) {
			_, err := New(system, plain.URL+"/api?token=hunter2", c, Options{})
			if err == nil || !strings.Contains(err.Error(), "refusing plain-http URL") {
				t.Fatalf("New with http:// = %v, want a plain-http refusal", err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks the query string: %v", err)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("plain server saw %d requests, want 0", n)
	}
}

func TestPlainHTTPTokenURLRefusedBeforeAnyByte(t *testing.T) {
	plain, hits := countingServer(t)
	api := newFake(t, http.NotFoundHandler())
	_, err := New(SystemZoho, api.URL, oauthCreds(map[string]string{"token_url": plain.URL + "/token"}), Options{RootCAs: rootsOf(api.Server)})
	if err == nil || !strings.Contains(err.Error(), "refusing plain-http URL") {
		t.Fatalf("New with an http:// token_url = %v, want a plain-http refusal", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("plain server saw %d requests, want 0", n)
	}
}

func TestRedirectToPlainHTTPRefused(t *testing.T) {
	plain, hits := countingServer(t)
	api := newFake(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/patients", http.StatusFound)
	}))
	c := mustNew(t, SystemCerbo, api.URL, cerboCreds, testOptions(api.Server))
	_, err := c.Changes(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), "refusing plain-http URL") {
		t.Fatalf("Changes through a redirect to http:// = %v, want a plain-http refusal", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("plain server saw %d requests, want 0", n)
	}
	if n := api.seen("/"); n != 1 {
		t.Errorf("a refusal was retried: the HTTPS server saw %d requests, want 1", n)
	}
}

func TestTLSVersionBelowMinimumFails(t *testing.T) {
	tests := map[string]struct {
		serverMax  uint16
		minVersion string
	}{
		"TLS 1.1 server, default minimum": {serverMax: tls.VersionTLS11, minVersion: ""},
		"TLS 1.2 server, minimum 1.3":     {serverMax: tls.VersionTLS12, minVersion: "1.3"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var handled atomic.Int64
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { handled.Add(1) }))
			srv.TLS = &tls.Config{MaxVersion: tt.serverMax}
			srv.StartTLS()
			t.Cleanup(srv.Close)
			o := testOptions(srv)
			o.MinTLSVersion = tt.minVersion
			c := mustNew(t, SystemCerbo, srv.URL, cerboCreds, o)
			_, err := c.Changes(context.Background(), "")
			if err == nil || !strings.Contains(err.Error(), "TLS version negotiation failed") {
				t.Fatalf("Changes = %v, want a TLS version negotiation error", err)
			}
			if handled.Load() != 0 {
				t.Errorf("handler ran %d times, want 0", handled.Load())
			}
		})
	}
}

func TestMinTLSVersionOption(t *testing.T) {
	srv := newFake(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"data": []any{}, "total": 0})
	}))
	tests := map[string]struct {
		version string
		wantErr string
	}{
		"default":  {version: ""},
		"1.2":      {version: "1.2"},
		"1.3":      {version: "1.3"},
		"1.1":      {version: "1.1", wantErr: `minimum TLS version "1.1" is not allowed`},
		"1.0":      {version: "1.0", wantErr: `minimum TLS version "1.0" is not allowed`},
		"spelling": {version: "TLS1.2", wantErr: `minimum TLS version "TLS1.2" is not allowed`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			o := testOptions(srv.Server)
			o.MinTLSVersion = tt.version
			c, err := New(SystemCerbo, srv.URL, cerboCreds, o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New = %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if _, err := c.Changes(context.Background(), ""); err != nil {
				t.Fatalf("Changes: %v", err)
			}
		})
	}
}

func TestUntrustedCertificateFails(t *testing.T) {
	srv := newFake(t, http.NotFoundHandler())
	o := testOptions(srv.Server)
	o.RootCAs = nil
	c := mustNew(t, SystemCerbo, srv.URL, cerboCreds, o)
	_, err := c.Changes(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), "TLS certificate verification failed") {
		t.Fatalf("Changes = %v, want a certificate verification error", err)
	}
}
