package connector

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// attackerServer is a TLS server the client trusts, reached as "localhost" (the allowed fake is
// "127.0.0.1"): only the host allowlist stands between it and the credentials. It counts
// connections, so a refusal before dialing is told apart from one after.
func attackerServer(t *testing.T) (baseURL string, conns *atomic.Int64) {
	t.Helper()
	conns = &atomic.Int64{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"access_token": "stolen", "token_type": "bearer", "expires_in": 3600})
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return "https://localhost:" + u.Port(), conns
}

// restrictedOptions allow only the fake's host and port (httptest servers share one certificate,
// so the client trusts the attacker's too).
func restrictedOptions(api *fake) Options {
	o := testOptions(api.Server)
	o.TokenURL = ""
	u, _ := url.Parse(api.URL)
	o.AllowedHosts = []string{u.Host}
	return o
}

// TestTokenURLToAnotherHostNeverConnects plays the tenant admin who writes a token_url of their own
// into the vault secret, to receive the client secret and refresh token.
func TestTokenURLToAnotherHostNeverConnects(t *testing.T) {
	attacker, conns := attackerServer(t)
	api := newFake(t, http.NotFoundHandler())
	o := restrictedOptions(api)
	for system, creds := range map[string]Credentials{
		SystemQuickBooks:  oauthCreds(map[string]string{"realm_id": "123", "token_url": attacker + "/token"}),
		SystemZoho:        oauthCreds(map[string]string{"token_url": attacker + "/oauth/v2/token"}),
		SystemGoHighLevel: oauthCreds(map[string]string{"location_id": "loc", "token_url": attacker + "/oauth/token"}),
	} {
		t.Run(system, func(t *testing.T) {
			c, err := New(system, api.URL, creds, o)
			if err == nil {
				// Were it built, the first call would refresh a token at the attacker.
				_, err = c.Changes(context.Background(), "")
			}
			if err == nil || !strings.Contains(err.Error(), "token URL") || !strings.Contains(err.Error(), "localhost") {
				t.Fatalf("New with a token_url on another host = %v, want a refusal naming the token URL and host", err)
			}
		})
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the token_url's host saw %d connections, want 0", n)
	}
}

// TestRedirectToAnotherHostNeverConnects: an allowed host that redirects elsewhere (or a tenant
// admin's proxy in front of it) cannot carry the request, and its credentials, on.
func TestRedirectToAnotherHostNeverConnects(t *testing.T) {
	attacker, conns := attackerServer(t)
	api := newFake(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, attacker+"/api/v1/patients", http.StatusTemporaryRedirect)
	}))
	c := mustNew(t, SystemCerbo, api.URL+"/api/v1", cerboCreds, restrictedOptions(api))
	_, err := c.Changes(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), "refused before connecting") {
		t.Fatalf("Changes through a redirect to another host = %v, want a refusal", err)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the redirect's host saw %d connections, want 0", n)
	}
	if n := len(api.requests); n != 1 {
		t.Errorf("the allowed host saw %d requests, want 1: a refusal is not retried", n)
	}
}

func TestBaseURLOutsideTheAllowedHostsRefused(t *testing.T) {
	attacker, conns := attackerServer(t)
	api := newFake(t, http.NotFoundHandler())
	_, err := New(SystemCerbo, attacker+"/api/v1", cerboCreds, restrictedOptions(api))
	if err == nil || !strings.Contains(err.Error(), "localhost") {
		t.Fatalf("New on another host = %v, want a refusal naming the host", err)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the other host saw %d connections, want 0", n)
	}
}

func TestAllowedHostStillWorks(t *testing.T) {
	api := newFake(t, newFakeCerbo())
	c := mustNew(t, SystemCerbo, api.URL+"/api/v1", cerboCreds, restrictedOptions(api))
	wantScan(t, readAll(t, c), "3", "2", "1")
}

// TestWebhookWithNoAllowedHostsDialsNothing: a webhook source runs with an empty list; were it
// asked to deliver, nothing would leave.
func TestWebhookWithNoAllowedHostsDialsNothing(t *testing.T) {
	attacker, conns := attackerServer(t)
	api := newFake(t, http.NotFoundHandler())
	o := testOptions(api.Server)
	o.AllowedHosts = []string{}
	c := mustNew(t, SystemWebhook, attacker+"/in", Credentials{"signing_secret": []byte("s")}, o)
	dst, ok := c.(Destination)
	if !ok {
		t.Fatal("webhook is no Destination")
	}
	if _, err := dst.Upsert(context.Background(), "", Record{ID: "1", IdempotencyKey: "k1"}); err == nil || !strings.Contains(err.Error(), "refused before connecting") {
		t.Fatalf("Upsert = %v, want a refusal", err)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the webhook URL's host saw %d connections, want 0", n)
	}
}
