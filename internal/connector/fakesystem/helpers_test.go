package fakesystem_test

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
)

func newTokens() *fakesystem.Tokens {
	return &fakesystem.Tokens{ClientID: "cid", ClientSecret: "csecret", RefreshToken: "rt"}
}

// api is a fake behind an httptest server, with an access token of its Tokens.
type api struct {
	t      *testing.T
	url    string
	header http.Header
}

func serve(t *testing.T, h http.Handler, tokens *fakesystem.Tokens, scheme string) *api {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	resp, err := http.PostForm(srv.URL+fakesystem.TokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"rt"},
		"client_id": {"cid"}, "client_secret": {"csecret"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %v", err)
	}
	return &api{t: t, url: srv.URL, header: http.Header{"Authorization": {scheme + " " + tok.AccessToken}}}
}

// reply is an answer of a fake.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("answer %d %s: %v", r.status, r.body, err)
	}
}

func (a *api) do(method, path string, body any) reply {
	a.t.Helper()
	var reader io.Reader
	if body != nil {
		raw, ok := body.([]byte)
		if !ok {
			var err error
			if raw, err = json.Marshal(body); err != nil {
				a.t.Fatal(err)
			}
		}
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.url+path, reader)
	if err != nil {
		a.t.Fatal(err)
	}
	maps.Copy(req.Header, a.header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	out, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: out}
}

// sample is a value of every property a schema defines, each of the defined type: a body that
// uses the whole definition.
func sample(s *contract.Schema) any {
	switch s.Type {
	case contract.Boolean:
		return true
	case contract.Number:
		return 1
	case contract.Array:
		if s.Items == nil {
			return []any{}
		}
		return []any{sample(s.Items)}
	case contract.Object:
		out := map[string]any{}
		for name, p := range s.Properties {
			out[name] = sample(p)
		}
		return out
	}
	return "x"
}

// mustJSON encodes v.
func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantNoValue fails if an answer carries any of the values.
func wantNoValue(t *testing.T, answer []byte, values ...string) {
	t.Helper()
	for _, v := range values {
		if strings.Contains(string(answer), v) {
			t.Errorf("the answer carries the value %q: %s", v, answer)
		}
	}
}

// rawCerboPatient is a Cerbo patient as the runtime used to forward it: what every destination
// must refuse.
func rawCerboPatient() map[string]any { return fakesystem.DemoPatients()[0] }

// clinicalValues are the values of a patient's clinical properties that no answer may echo.
func clinicalValues(p map[string]any) []string {
	var out []string
	for _, name := range fakesystem.CerboClinicalProperties {
		if s, ok := p[name].(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func urlQuery(s string) string { return url.QueryEscape(s) }
