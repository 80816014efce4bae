package syncrun

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
)

// tokenWriter patches rotated refresh tokens, and the time of a refusal, into the Integration's
// rotated-token Secret, from where the operator's PushSecret writes them back to the vault. Its
// identity is the projected token of the Integration's token-writer ServiceAccount, which may
// patch that one Secret and do nothing else. It is a single merge patch over HTTPS: no client
// library that could log a request body, and no error that carries the body it sent.
type tokenWriter struct {
	// url is the Secret's address on the API server.
	url       string
	tokenFile string
	client    *http.Client
	// sides maps a rotating system to its side ("source", "destination").
	sides map[string]string
}

// tokenWriterTimeout bounds one patch; a slow API server must not hold a token refresh.
const tokenWriterTimeout = 10 * time.Second

// newTokenWriter builds the writer of a configuration, nil when no side rotates tokens. apiServer
// is the API server's base URL ("" means the in-cluster address from KUBERNETES_SERVICE_HOST and
// KUBERNETES_SERVICE_PORT, which the kubelet sets whatever enableServiceLinks says).
func newTokenWriter(cfg syncconfig.Config, apiServer string) (*tokenWriter, error) {
	tw := cfg.TokenWriter
	if tw == nil || len(tw.Sides) == 0 {
		return nil, nil
	}
	if tw.Namespace == "" || tw.Secret == "" || tw.Dir == "" {
		return nil, errors.New("tokenWriter: namespace, secret and dir are required")
	}
	if apiServer == "" {
		host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			return nil, errors.New("tokenWriter: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set")
		}
		apiServer = "https://" + net.JoinHostPort(host, port)
	}
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(filepath.Join(tw.Dir, syncconfig.TokenWriterCAFile))
	if err != nil {
		return nil, fmt.Errorf("tokenWriter: reading the API server's CA bundle: %w", err)
	}
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("tokenWriter: the API server's CA bundle holds no certificate")
	}
	sides := map[string]string{}
	for _, s := range tw.Sides {
		switch s {
		case "source":
			sides[cfg.Source.System] = s
		case "destination":
			sides[cfg.Destination.System] = s
		default:
			return nil, fmt.Errorf("tokenWriter: unknown side %q", s)
		}
	}
	return &tokenWriter{
		url: strings.TrimRight(apiServer, "/") + "/api/v1/namespaces/" + url.PathEscape(tw.Namespace) +
			"/secrets/" + url.PathEscape(tw.Secret) + "?fieldManager=tenantwire-sync",
		tokenFile: filepath.Join(tw.Dir, syncconfig.TokenWriterTokenFile),
		client: &http.Client{Timeout: tokenWriterTimeout, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			Proxy:           nil,
		}},
		sides: sides,
	}, nil
}

// rotates reports whether the writer writes system's tokens.
func (w *tokenWriter) rotates(system string) bool {
	_, ok := w.sides[system]
	return ok
}

// writeToken patches system's newest refresh token into the Secret.
func (w *tokenWriter) writeToken(system, token string) error {
	return w.patch(system, syncconfig.RotatedTokenKey(w.sides[system]), token)
}

// writeRefusal records when the vendor refused system's refresh token.
func (w *tokenWriter) writeRefusal(system string, at time.Time) error {
	return w.patch(system, syncconfig.RefusedAtKey(w.sides[system]), at.UTC().Format(time.RFC3339))
}

func (w *tokenWriter) patch(system, key, value string) error {
	if !w.rotates(system) {
		return fmt.Errorf("tokenWriter: %s does not rotate refresh tokens here", system)
	}
	body, err := json.Marshal(map[string]any{"data": map[string]string{key: base64.StdEncoding.EncodeToString([]byte(value))}})
	if err != nil {
		return err
	}
	// The kubelet renews the projected token: read it for every request.
	bearer, err := os.ReadFile(w.tokenFile)
	if err != nil {
		return fmt.Errorf("tokenWriter: reading the projected token: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), tokenWriterTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, w.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/merge-patch+json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(bearer)))
	resp, err := w.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			// Op and URL only: the URL names the Secret, never a value.
			err = fmt.Errorf("%s %s: %w", uerr.Op, w.url, uerr.Err)
		}
		return fmt.Errorf("tokenWriter: patching %s: %w", key, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	// The API server's Status reason (Forbidden, NotFound, ...), never its message, which may
	// quote what was sent.
	var status struct {
		Reason string `json:"reason"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&status)
	return fmt.Errorf("tokenWriter: patching %s: the API server answered %d %s", key, resp.StatusCode, status.Reason)
}

// writtenBackTokens saves rotated refresh tokens in the store, then writes them back through the
// token writer. The store comes first: it alone keeps a restart with the same store going when the
// API server cannot be reached; the Secret (and the vault, through the PushSecret) keeps a pod
// that starts with another store going.
type writtenBackTokens struct {
	connector.RefreshTokenStore
	writer *tokenWriter
}

func (t writtenBackTokens) Save(system, mounted, newest string) error {
	err := t.RefreshTokenStore.Save(system, mounted, newest)
	if t.writer.rotates(system) {
		err = errors.Join(err, t.writer.writeToken(system, newest))
	}
	return err
}

// recordRefusal writes the time of a vendor's refusal of a refresh token that the writer writes;
// it does nothing for any other error.
func (w *tokenWriter) recordRefusal(err error, at time.Time) error {
	var refused *connector.AuthorizationRefusedError
	if w == nil || !errors.As(err, &refused) || refused.StatusError == nil || !w.rotates(refused.System) {
		return nil
	}
	return w.writeRefusal(refused.System, at)
}
