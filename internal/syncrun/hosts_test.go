package syncrun

import (
	"context"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
)

// TestTokenURLFromTheVaultCannotLeaveTheAllowedHosts plays the tenant admin who writes a token_url
// of their own into the destination's vault secret: sync.yaml allows the vendor's host only, and
// the runtime must not open a connection to theirs, where the client secret and refresh token
// would go.
func TestTokenURLFromTheVaultCannotLeaveTheAllowedHosts(t *testing.T) {
	var attackerConns atomic.Int64
	attacker := httptest.NewUnstartedServer(http.NotFoundHandler())
	attacker.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			attackerConns.Add(1)
		}
	}
	attacker.StartTLS()
	defer attacker.Close()
	// One patient to move, so that a runtime that started would refresh a destination token.
	vendor := httptest.NewTLSServer(fakesystem.NewCerbo("api-user", "s3cret",
		map[string]any{"id": 1, "first_name": "A", "updated_at": "2026-01-01T00:00:00Z"}))
	defer vendor.Close()
	roots := x509.NewCertPool()
	roots.AddCert(vendor.Certificate())
	vendorURL, _ := url.Parse(vendor.URL)
	attackerURL, _ := url.Parse(attacker.URL)

	configPath, cfg := podFiles(t, newKeyring(t, 1, 1))
	cfg.Source.URL, cfg.Source.AllowedHosts = vendor.URL+fakesystem.CerboBasePath, []string{vendorURL.Host}
	cfg.Destination.URL, cfg.Destination.AllowedHosts = vendor.URL, []string{vendorURL.Host}
	for name, value := range map[string]string{
		"username": "api-user", "client_id": "cid", "client_secret": "csecret", "realm_id": "1",
		// "localhost" is another host than the vendor's "127.0.0.1", on the attacker's port.
		"token_url": "https://localhost:" + attackerURL.Port() + "/token",
	} {
		dir := cfg.Destination.CredentialsDir
		if name == "username" {
			dir = cfg.Source.CredentialsDir
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	body, err := syncconfig.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(configPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	// What main's factory does, with the test servers' certificate trusted.
	factory := func(system, u string, allowed []string, creds connector.Credentials, minTLS string, stores ConnectorStores, log logr.Logger) (connector.Connector, error) {
		return connector.New(system, u, creds, connector.Options{MinTLSVersion: minTLS, AllowedHosts: allowed, RootCAs: roots,
			RefreshTokens: stores.RefreshTokens, Logger: log, MaxAttempts: 1})
	}
	// A runtime that does not refuse at start-up refreshes a token in its first cycle: give it the
	// time to, then stop it.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err = Run(ctx, Options{ConfigPath: configPath, NewConnector: factory, Log: testr.New(t)})
	if n := attackerConns.Load(); n != 0 {
		t.Errorf("the token_url's host saw %d connections, want 0", n)
	}
	if err == nil || !strings.Contains(err.Error(), "quickbooks token URL") || !strings.Contains(err.Error(), "localhost") {
		t.Errorf("Run = %v, want a refusal of the destination's token URL naming its host", err)
	}
}
