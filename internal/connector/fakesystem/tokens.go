// Package fakesystem serves made-up vendor APIs: Cerbo's patients, QuickBooks' customers, Zoho
// CRM's and GoHighLevel's contacts, and an OAuth2 token endpoint. The destination fakes enforce the
// vendor definitions kept under each vendor package's testdata, answer in the vendor's error shapes
// and enforce the vendor's published rate limits. The connector tests, the end-to-end suite, the
// benchmark and `make run` sync against them; nothing here reaches a real vendor or holds real
// data.
package fakesystem

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// TokenPath is where an API that uses Tokens serves its token endpoint.
const TokenPath = "/token"

// Tokens is an OAuth2 token endpoint for the refresh-token grant of one client. It hands out
// access-1, access-2, ... for RefreshToken.
type Tokens struct {
	ClientID, ClientSecret, RefreshToken string
	// ExpireFirst makes the API treat access-1 as expired, so a client goes through one 401 and
	// one refresh.
	ExpireFirst bool
	// Rotating makes it behave like Intuit: the n-th refresh hands out a new refresh token,
	// RefreshToken.(n+1), and only the newest one is accepted from then on.
	Rotating bool
	issued   atomic.Int64
}

// CurrentRefreshToken is the refresh token the endpoint accepts now.
func (t *Tokens) CurrentRefreshToken() string {
	if n := t.issued.Load(); t.Rotating && n > 0 {
		return fmt.Sprintf("%s.%d", t.RefreshToken, n+1)
	}
	return t.RefreshToken
}

// Issued is the number of access tokens handed out so far.
func (t *Tokens) Issued() int64 { return t.issued.Load() }

// ServeHTTP is the token endpoint. The client authenticates with a Basic header or in the form.
func (t *Tokens) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "refresh_token" || r.Form.Get("refresh_token") != t.CurrentRefreshToken() {
		// The description echoes the token, as some vendors do: the adapters must not log it.
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant",
			"error_description": fmt.Sprintf("refresh token %s revoked", r.Form.Get("refresh_token"))})
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
	}
	if id != t.ClientID || secret != t.ClientSecret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	n := t.issued.Add(1)
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": fmt.Sprintf("access-%d", n), "token_type": "Bearer", "expires_in": 3600, "refresh_token": t.CurrentRefreshToken(),
	})
}

// Authorize serves the token endpoint at TokenPath and answers false there; elsewhere it is true
// for an API call that carries a live access token under scheme, and answers 401 otherwise.
func (t *Tokens) Authorize(w http.ResponseWriter, r *http.Request, scheme string) bool {
	if r.URL.Path == TokenPath {
		t.ServeHTTP(w, r)
		return false
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(r.Header.Get("Authorization"), scheme+" access-"), 10, 64)
	if err != nil || n < 1 || n > t.issued.Load() || (t.ExpireFirst && n == 1) {
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
