package devsync

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
)

// fakes are the source and destination the local runtime syncs between, on loopback over TLS.
type fakes struct {
	Cerbo      *fakesystem.Cerbo
	QuickBooks *fakesystem.QuickBooks
	servers    []*httptest.Server
	// caFile holds the servers' certificate, for SSL_CERT_FILE.
	caFile string
}

// demoPageLimit spreads the demo patients over several pages, as a real practice's are.
const demoPageLimit = 2

// startFakes serves a fake for each side of cfg that accepts exactly the credentials the
// Integration's Secrets hold, so a cycle also shows that they reached the runtime intact.
func startFakes(cfg syncconfig.Config, credsDir func(string) string, dir string) (*fakes, error) {
	if cfg.Source.System != connector.SystemCerbo || cfg.Destination.System != connector.SystemQuickBooks {
		return nil, fmt.Errorf("there are fakes for %s to %s only, not %s to %s",
			connector.SystemCerbo, connector.SystemQuickBooks, cfg.Source.System, cfg.Destination.System)
	}
	src, err := connector.ReadCredentials(credsDir(cfg.Source.CredentialsDir))
	if err != nil {
		return nil, err
	}
	dst, err := connector.ReadCredentials(credsDir(cfg.Destination.CredentialsDir))
	if err != nil {
		return nil, err
	}
	value := func(c connector.Credentials, k string) string { return strings.TrimSpace(string(c[k])) }
	f := &fakes{
		Cerbo: fakesystem.NewCerbo(value(src, "username"), value(src, "api_key"), fakesystem.DemoPatients()...),
		QuickBooks: fakesystem.NewQuickBooks(value(dst, "realm_id"), &fakesystem.Tokens{
			ClientID: value(dst, "client_id"), ClientSecret: value(dst, "client_secret"), RefreshToken: value(dst, "refresh_token"),
			// Intuit rotates refresh tokens: a restarted runtime must use the one it kept, not the mounted one.
			Rotating: true,
		}),
	}
	f.Cerbo.PageLimit = demoPageLimit
	var certs []byte
	for _, h := range []http.Handler{f.Cerbo, f.QuickBooks} {
		srv := httptest.NewTLSServer(h)
		f.servers = append(f.servers, srv)
		certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})...)
	}
	f.caFile = filepath.Join(dir, "fake-vendors-ca.pem")
	if err := os.WriteFile(f.caFile, certs, 0o600); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

func (f *fakes) cerboURL() string      { return f.servers[0].URL + fakesystem.CerboBasePath }
func (f *fakes) quickBooksURL() string { return f.servers[1].URL }

func (f *fakes) close() {
	for _, s := range f.servers {
		s.Close()
	}
}
