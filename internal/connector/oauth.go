package connector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/go-logr/logr"
	"golang.org/x/oauth2"
)

// The credential files of an OAuth2 system.
const (
	credClientID     = "client_id"
	credClientSecret = "client_secret"
	credRefreshToken = "refresh_token"
	// credTokenURL is optional: a region's token endpoint (Zoho's accounts.zoho.eu, ...).
	credTokenURL = "token_url"
)

// oauthEndpoint is how one vendor hands out access tokens.
type oauthEndpoint struct {
	tokenURL  string
	authStyle oauth2.AuthStyle
	// scheme is the Authorization scheme of the API: "Bearer", or Zoho's "Zoho-oauthtoken".
	scheme string
}

// oauthAuth gets access tokens with the refresh-token flow of golang.org/x/oauth2 and caches them
// until they expire or the API rejects one.
type oauthAuth struct {
	system string
	config oauth2.Config
	scheme string
	// ctx carries the TLS-checked client into every token refresh.
	ctx context.Context

	mu     sync.Mutex
	source oauth2.TokenSource
	// current is the access token last handed out: another one from source means a refresh.
	current *oauth2.Token
	// refreshToken is the newest refresh token: vendors that rotate refresh tokens (Intuit) hand
	// out a new one with each access token, and the old one stops working at some point.
	refreshToken string
	// mounted is the refresh token of the credential files; store keeps the newest across restarts.
	mounted string
	store   RefreshTokenStore
	log     logr.Logger
}

// newOAuthAuth checks the credential files and the token URL. The token URL is, in order:
// Options.TokenURL, a token_url credential file, the vendor's default.
func newOAuthAuth(system string, creds Credentials, ep oauthEndpoint, httpClient *http.Client, o Options) (*oauthAuth, error) {
	if err := creds.require(system, credClientID, credClientSecret, credRefreshToken); err != nil {
		return nil, err
	}
	tokenURL := ep.tokenURL
	if v := creds.value(credTokenURL); v != "" {
		tokenURL = v
	}
	if o.TokenURL != "" {
		tokenURL = o.TokenURL
	}
	parsed, err := parseBaseURL(system+" token URL", tokenURL)
	if err != nil {
		return nil, err
	}
	// A token_url from the vault is tenant-reachable input too: refuse it here, with the field
	// named, before the first refresh would send the client secret and refresh token to it.
	if err := checkAllowedHost(httpClient, parsed); err != nil {
		return nil, fmt.Errorf("connector: %s token URL: %w", system, errorWithoutPrefix(err))
	}
	a := &oauthAuth{
		system: system,
		config: oauth2.Config{
			ClientID:     creds.value(credClientID),
			ClientSecret: creds.value(credClientSecret),
			Endpoint:     oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: ep.authStyle},
		},
		scheme:       ep.scheme,
		ctx:          context.WithValue(context.Background(), oauth2.HTTPClient, httpClient),
		refreshToken: creds.value(credRefreshToken),
		mounted:      creds.value(credRefreshToken),
		store:        o.RefreshTokens,
		log:          o.Logger.WithValues("system", system),
	}
	if a.store != nil {
		saved, err := a.store.Load(system, a.mounted)
		if err != nil {
			return nil, fmt.Errorf("connector: %s: loading the saved refresh token: %w", system, err)
		}
		if saved != "" {
			a.refreshToken = saved
		}
	}
	a.source = a.newSource()
	return a, nil
}

// newSource starts a token source with no access token, so its first Token call refreshes.
func (a *oauthAuth) newSource() oauth2.TokenSource {
	return a.config.TokenSource(a.ctx, &oauth2.Token{RefreshToken: a.refreshToken})
}

func (a *oauthAuth) authorize(req *http.Request) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	start := time.Now()
	tok, err := a.source.Token()
	if err != nil {
		err = a.tokenError(err)
		a.logRefresh(start, err, false)
		return err
	}
	if tok != a.current {
		a.current = tok
		rotated := tok.RefreshToken != "" && tok.RefreshToken != a.refreshToken
		if rotated {
			a.refreshToken = tok.RefreshToken
			if a.store != nil {
				if err := a.store.Save(a.system, a.mounted, tok.RefreshToken); err != nil {
					// The request can still go out; only a restart before the next save would need
					// the rotated token. Say so, without the token.
					a.log.Error(err, "saving the rotated refresh token")
				}
			}
		}
		a.logRefresh(start, nil, rotated)
	}
	req.Header.Set("Authorization", a.scheme+" "+tok.AccessToken)
	return nil
}

// logRefresh writes the access log line of one token refresh: refreshed, refused (the refresh
// token or client credentials were rejected: someone must authorize again) or failed (the
// endpoint or the network; a later try may work), with the endpoint's status and RFC 6749 code.
func (a *oauthAuth) logRefresh(start time.Time, err error, rotated bool) {
	endpoint, _ := url.Parse(a.config.Endpoint.TokenURL)
	kv := []any{"host", endpoint.Host, "path", endpoint.Path, "latencyMs", time.Since(start).Milliseconds()}
	if err == nil {
		a.log.Info(accessTokenRefresh, append(kv, "outcome", "refreshed", "status", http.StatusOK, "refreshTokenRotated", rotated)...)
		return
	}
	outcome := "failed"
	var status *StatusError
	if errors.As(err, &status) {
		kv = append(kv, "status", status.Status, "code", status.Code)
		var perm *backoff.PermanentError
		if errors.As(err, &perm) {
			outcome = "refused"
		}
	}
	a.log.Info(accessTokenRefresh, append(kv, "outcome", outcome, "error", err.Error())...)
}

// refresh drops the cached access token; the next authorize refreshes it with the newest refresh
// token.
func (a *oauthAuth) refresh() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.source = a.newSource()
	return true
}

// tokenError keeps the token endpoint's status and RFC 6749 error code and drops its body and
// description, which the oauth2 package would print.
func (a *oauthAuth) tokenError(err error) error {
	var retrieve *oauth2.RetrieveError
	if errors.As(err, &retrieve) {
		statusErr := &StatusError{System: a.system, Op: "refresh OAuth2 access token", Code: retrieve.ErrorCode}
		if retrieve.Response != nil {
			statusErr.Status = retrieve.Response.StatusCode
		}
		if statusErr.Retryable() {
			return statusErr
		}
		return backoff.Permanent(&AuthorizationRefusedError{statusErr})
	}
	err = fmt.Errorf("connector: %s: refresh OAuth2 access token: %w", a.system, describeTransportError(err))
	if isRefusal(err) {
		return backoff.Permanent(err)
	}
	return err
}
