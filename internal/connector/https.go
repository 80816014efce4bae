package connector

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tenantwire/tenantwire/internal/hostpolicy"
)

// tlsVersions are the accepted MinTLSVersion values; lower versions are not negotiable at all.
var tlsVersions = map[string]uint16{
	"":    tls.VersionTLS12,
	"1.2": tls.VersionTLS12,
	"1.3": tls.VersionTLS13,
}

func parseMinTLSVersion(v string) (uint16, error) {
	if version, ok := tlsVersions[v]; ok {
		return version, nil
	}
	return 0, fmt.Errorf("connector: minimum TLS version %q is not allowed: use \"1.2\" or \"1.3\"", v)
}

// newHTTPClient builds the one client every adapter and token refresh uses. Plain HTTP is refused
// by the transport itself, so a redirect or a token URL cannot downgrade a hop either.
func newHTTPClient(o Options) (*http.Client, error) {
	minVersion, err := parseMinTLSVersion(o.MinTLSVersion)
	if err != nil {
		return nil, err
	}
	var allowed hostpolicy.List
	if o.AllowedHosts != nil {
		if allowed, err = hostpolicy.ParseList(o.AllowedHosts); err != nil {
			return nil, fmt.Errorf("connector: allowed hosts: %w", err)
		}
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{MinVersion: minVersion, RootCAs: o.RootCAs}
	return &http.Client{
		Transport: httpsOnly{next: transport, allowed: allowed, restricted: o.AllowedHosts != nil},
		Timeout:   o.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("connector: stopped after 10 redirects")
			}
			return httpsOnly{allowed: allowed, restricted: o.AllowedHosts != nil}.check(req.URL)
		},
	}, nil
}

// httpsOnly refuses any request that is not HTTPS, or (when restricted) whose host is not
// allowed, before the inner transport dials, so not one byte reaches a plain-HTTP server or a host
// the platform did not list. Redirects and OAuth2 token refreshes go through it too.
type httpsOnly struct {
	next       http.RoundTripper
	allowed    hostpolicy.List
	restricted bool
}

func (t httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.check(req.URL); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	return t.next.RoundTrip(req)
}

func (t httpsOnly) check(u *url.URL) error {
	if err := checkHTTPS(u); err != nil {
		return err
	}
	if t.restricted {
		if err := t.allowed.CheckURL(u); err != nil {
			return &hostRefusedError{err: err}
		}
	}
	return nil
}

// checkAllowedHost refuses a URL the client's transport would refuse, before anything is built
// on it.
func checkAllowedHost(c *http.Client, u *url.URL) error {
	if t, ok := c.Transport.(httpsOnly); ok {
		return t.check(u)
	}
	return nil
}

// hostRefusedError is a URL outside the allowed hosts; retrying it can never succeed.
type hostRefusedError struct{ err error }

func (e *hostRefusedError) Error() string {
	return fmt.Sprintf("connector: refused before connecting: %s (the platform allows this system's credentials only to its listed hosts)", e.err)
}

func (e *hostRefusedError) Unwrap() error { return e.err }

// plainHTTPError is a refused non-HTTPS URL; retrying it can never succeed.
type plainHTTPError struct{ url string }

func (e *plainHTTPError) Error() string {
	return fmt.Sprintf("connector: refusing plain-http URL %s: every hop must use https://", e.url)
}

func checkHTTPS(u *url.URL) error {
	if u.Scheme != "https" {
		return &plainHTTPError{url: redactURL(u)}
	}
	if u.Host == "" {
		return fmt.Errorf("connector: URL %s has no host", redactURL(u))
	}
	return nil
}

// parseBaseURL checks a configured URL before any request is built.
func parseBaseURL(system, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("connector: %s: URL is not valid: %w", system, errors.Unwrap(err))
	}
	if err := checkHTTPS(u); err != nil {
		return nil, fmt.Errorf("connector: %s: %w", system, errorWithoutPrefix(err))
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// redactURL keeps scheme, host and path: a query string or user info may carry secrets.
func redactURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// transportError turns an error of http.Client.Do into one that is safe to log and says what went
// wrong in TLS terms.
func transportError(system string, err error) error {
	return fmt.Errorf("connector: %s: %w", system, describeTransportError(err))
}

// describeTransportError drops the url.Error of the standard library, which prints the full URL
// with its query string, and names TLS failures.
func describeTransportError(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	var plain *plainHTTPError
	var refused *hostRefusedError
	switch {
	case errors.As(err, &plain), errors.As(err, &refused):
		return errorWithoutPrefix(err)
	case isTLSVersionError(err):
		return fmt.Errorf("TLS version negotiation failed (the server offers no version this client accepts, TLS 1.2 or higher): %w", err)
	case isCertificateError(err):
		return fmt.Errorf("TLS certificate verification failed: %w", err)
	}
	return err
}

// isTLSVersionError matches both sides of a failed version negotiation. The tls package has no
// exported type for either: the server answers with a protocol_version alert, or the client
// rejects the version the server picked.
func isTLSVersionError(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "tls: protocol version not supported") ||
		strings.Contains(msg, "tls: server selected unsupported protocol version")
}

// isTLSError says the peer's TLS setup has to change before a retry could help.
func isTLSError(err error) bool {
	return isTLSVersionError(err) || isCertificateError(err)
}

// isRefusal says the request was refused or cannot be secured: no retry can change that.
func isRefusal(err error) bool {
	var plain *plainHTTPError
	var refused *hostRefusedError
	return errors.As(err, &plain) || errors.As(err, &refused) || isTLSError(err)
}

func isCertificateError(err error) bool {
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	return errors.As(err, &certErr) || errors.As(err, &unknownAuthority) || errors.As(err, &hostErr)
}

// errorWithoutPrefix keeps one "connector: " prefix when errors from this package nest.
type prefixless struct{ err error }

func (p prefixless) Error() string { return strings.TrimPrefix(p.err.Error(), "connector: ") }
func (p prefixless) Unwrap() error { return p.err }

func errorWithoutPrefix(err error) error { return prefixless{err} }
