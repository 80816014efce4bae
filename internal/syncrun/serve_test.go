package syncrun

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/tenantwire/tenantwire/internal/testenv"
)

func selfSigned(t *testing.T) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "webhook"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), pool
}

func TestWebhookListenerSpeaksOnlyTLS12AndUp(t *testing.T) {
	certPEM, keyPEM, pool := selfSigned(t)
	addr, err := testenv.FreeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := &servers{}
	t.Cleanup(s.shutdown)
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	if err := s.serveWebhook(addr, handler, map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM}, testr.New(t)); err != nil {
		t.Fatal(err)
	}
	client := func(maxVersion uint16) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: maxVersion}}} //nolint:gosec // the test offers old versions on purpose
	}
	resp, err := client(tls.VersionTLS12).Post("https://"+addr+"/", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("TLS 1.2 client: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if _, err := client(tls.VersionTLS11).Post("https://"+addr+"/", "application/json", strings.NewReader("{}")); err == nil {
		t.Fatal("a TLS 1.1 client was served")
	}
	if err := s.serveWebhook(addr, handler, map[string][]byte{"signing_secret": []byte("x")}, testr.New(t)); err == nil ||
		!strings.Contains(err.Error(), "tls.crt and tls.key") {
		t.Fatalf("missing certificate: %v", err)
	}
}
