package fakesystem_test

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
	"github.com/tenantwire/tenantwire/internal/connector/gohighlevel"
)

const location = "ve9EPM428h8vShlRW1KT"

func newGoHighLevel(t *testing.T, contacts ...map[string]any) (*fakesystem.GoHighLevel, *api) {
	t.Helper()
	tokens := newTokens()
	g := fakesystem.NewGoHighLevel(location, tokens, contacts...)
	a := serve(t, g, tokens, "Bearer")
	a.header.Set("Version", gohighlevel.APIVersion)
	return g, a
}

func contactDefinition(t *testing.T) *contract.Definition {
	t.Helper()
	d, err := gohighlevel.ContactDefinition()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type ghlUpsert struct {
	New     bool           `json:"new"`
	Contact map[string]any `json:"contact"`
}

// TestGoHighLevelAcceptsEveryPropertyOfTheDefinition derives the accepted property sets from the
// kept contact definition: an upsert that uses every property is accepted, and so is an update
// that uses every property but locationId.
func TestGoHighLevelAcceptsEveryPropertyOfTheDefinition(t *testing.T) {
	g, a := newGoHighLevel(t)
	body := sample(contactDefinition(t).Body).(map[string]any)
	body["locationId"] = location
	r := a.do(http.MethodPost, "/contacts/upsert", body)
	var out ghlUpsert
	r.decode(t, &out)
	if r.status != http.StatusOK || !out.New {
		t.Fatalf("an upsert using every defined property = %d %s", r.status, r.body)
	}
	delete(body, "locationId")
	if r := a.do(http.MethodPut, "/contacts/"+out.Contact["id"].(string), body); r.status != http.StatusOK {
		t.Fatalf("an update using every defined property but locationId = %d %s", r.status, r.body)
	}
	if s := g.Stats(); s.Created != 1 || s.Updated != 1 || s.Refused != 0 {
		t.Errorf("stats = %+v", s)
	}
}

// TestGoHighLevelRefusesWhatTheDefinitionRefuses: each body is answered exactly as
// gohighlevel.Refusal answers it (422), nothing is written, no value is echoed.
func TestGoHighLevelRefusesWhatTheDefinitionRefuses(t *testing.T) {
	d := contactDefinition(t)
	raw := rawCerboPatient()
	update := fakesystem.GoHighLevelUpdateDefinition(d)
	tests := map[string]struct {
		method, path string
		body         map[string]any
		definition   *contract.Definition
		want         []string
	}{
		"raw Cerbo patient": {method: http.MethodPost, path: "/contacts/upsert", body: raw, definition: d},
		"undeclared property": {method: http.MethodPost, path: "/contacts/upsert", definition: d,
			body: map[string]any{"locationId": location, "email": "testy@example.com", "clinical_notes": raw["clinical_notes"]},
			want: []string{"clinical_notes: unknown property"}},
		"neither email nor phone": {method: http.MethodPost, path: "/contacts/upsert", definition: d,
			body: map[string]any{"locationId": location, "firstName": "Testy"},
			want: []string{"(body): missing one of email, phone"}},
		"no location": {method: http.MethodPost, path: "/contacts/upsert", definition: d,
			body: map[string]any{"email": "testy@example.com"},
			want: []string{"locationId: missing required property"}},
		"update with locationId": {method: http.MethodPut, path: "/contacts/ghl1", definition: update,
			body: map[string]any{"locationId": location, "firstName": "Testy"},
			want: []string{"locationId: unknown property"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g, a := newGoHighLevel(t, map[string]any{"id": "ghl1", "email": "x@example.com"})
			r := a.do(tc.method, tc.path, tc.body)
			status, want := gohighlevel.Refusal(tc.definition.Check(mustJSON(t, tc.body)))
			if r.status != status || !bytes.Equal(bytes.TrimSpace(r.body), want) {
				t.Fatalf("answer = %d %s\nwant     %d %s", r.status, r.body, status, want)
			}
			var got gohighlevel.Unprocessable
			r.decode(t, &got)
			if tc.want != nil && !slices.Equal(got.Message, tc.want) {
				t.Errorf("messages = %q, want %q", got.Message, tc.want)
			}
			if s := g.Stats(); s.Created+s.Updated != 0 || s.Refused != 1 {
				t.Errorf("stats = %+v", s)
			}
			wantNoValue(t, r.body, append(clinicalValues(raw), "testy@example.com")...)
		})
	}
}

func TestGoHighLevelUpsertMatchesByEmailThenPhone(t *testing.T) {
	g, a := newGoHighLevel(t)
	first := a.do(http.MethodPost, "/contacts/upsert", map[string]any{"locationId": location, "email": "testy@example.com", "phone": "+1 555 0101"})
	byEmail := a.do(http.MethodPost, "/contacts/upsert", map[string]any{"locationId": location, "email": "TESTY@example.com", "firstName": "Testy"})
	byPhone := a.do(http.MethodPost, "/contacts/upsert", map[string]any{"locationId": location, "phone": "+1 555 0101", "lastName": "McTestface"})
	var a1, a2, a3 ghlUpsert
	first.decode(t, &a1)
	byEmail.decode(t, &a2)
	byPhone.decode(t, &a3)
	if !a1.New || a2.New || a3.New || a2.Contact["id"] != a1.Contact["id"] || a3.Contact["id"] != a1.Contact["id"] {
		t.Fatalf("upserts = %s / %s / %s", first.body, byEmail.body, byPhone.body)
	}
	if s := g.Stats(); s.Created != 1 || s.Updated != 2 || len(g.Contacts()) != 1 {
		t.Errorf("stats = %+v", s)
	}
	other := a.do(http.MethodPost, "/contacts/upsert", map[string]any{"locationId": "another-location", "email": "fakey@example.org"})
	if other.status != http.StatusForbidden {
		t.Errorf("an upsert into another location = %d %s, want 403", other.status, other.body)
	}
}

// TestGoHighLevelSearchWalksEveryChangedContact pages through the contacts changed since a time
// with searchAfter, as the contact search (not the deprecated list) is used.
func TestGoHighLevelSearchWalksEveryChangedContact(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var contacts []map[string]any
	for i := range 25 {
		at := base.Add(time.Duration(i/2) * time.Minute).Format(time.RFC3339Nano) // pairs share a time
		contacts = append(contacts, map[string]any{"id": fmt.Sprintf("c%02d", i), "dateAdded": at, "dateUpdated": at})
	}
	_, a := newGoHighLevel(t, contacts...)
	since := base.Add(5 * time.Minute).Format(time.RFC3339Nano)
	search := map[string]any{"locationId": location, "pageLimit": 4,
		"filters": []any{map[string]any{"field": "dateUpdated", "operator": "range", "value": map[string]any{"gte": since}}},
		"sort":    []any{map[string]any{"field": "dateUpdated", "direction": "asc"}}}
	var seen []string
	for {
		var page struct {
			Contacts []map[string]any `json:"contacts"`
			Total    int              `json:"total"`
		}
		r := a.do(http.MethodPost, "/contacts/search", search)
		r.decode(t, &page)
		if r.status != http.StatusOK || page.Total != 15 {
			t.Fatalf("search = %d %s", r.status, r.body)
		}
		for _, c := range page.Contacts {
			seen = append(seen, c["id"].(string))
		}
		if len(page.Contacts) < 4 {
			break
		}
		search["searchAfter"] = page.Contacts[len(page.Contacts)-1]["searchAfter"]
	}
	var want []string
	for i := 10; i < 25; i++ {
		want = append(want, fmt.Sprintf("c%02d", i))
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("walked %v\nwant   %v", seen, want)
	}
	search["filters"] = []any{map[string]any{"field": "customField", "operator": "eq", "value": map[string]any{}}}
	if r := a.do(http.MethodPost, "/contacts/search", search); r.status != http.StatusUnprocessableEntity {
		t.Errorf("a filter the fake does not serve = %d %s, want 422", r.status, r.body)
	}
}

// TestGoHighLevelThrottlesWithItsHeaders: every answer says how much of the window is left, and
// the request past it is answered 429 with the headers the adapter waits by.
func TestGoHighLevelThrottlesWithItsHeaders(t *testing.T) {
	g, a := newGoHighLevel(t)
	g.RateLimit = contract.RateLimit{Requests: 3, Per: 500 * time.Millisecond}
	search := map[string]any{"locationId": location}
	for i := range 3 {
		r := a.do(http.MethodPost, "/contacts/search", search)
		if r.status != http.StatusOK || r.header.Get("X-RateLimit-Remaining") != strconv.Itoa(2-i) || r.header.Get("X-RateLimit-Max") != "3" {
			t.Fatalf("request %d = %d, headers %v", i, r.status, r.header)
		}
	}
	r := a.do(http.MethodPost, "/contacts/search", search)
	if r.status != http.StatusTooManyRequests || r.header.Get("X-RateLimit-Interval-Milliseconds") != "500" || r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("fourth request = %d %s, headers %v", r.status, r.body, r.header)
	}
	if s := g.Stats(); s.Throttled != 1 {
		t.Errorf("stats = %+v", s)
	}
}

func TestGoHighLevelDefaultsToThePublishedLimit(t *testing.T) {
	g, a := newGoHighLevel(t)
	search := map[string]any{"locationId": location}
	for i := range gohighlevel.RateLimit.Requests {
		if r := a.do(http.MethodPost, "/contacts/search", search); r.status != http.StatusOK {
			t.Fatalf("request %d = %d", i+1, r.status)
		}
	}
	r := a.do(http.MethodPost, "/contacts/search", search)
	if r.status != http.StatusTooManyRequests || r.header.Get("X-RateLimit-Interval-Milliseconds") != "10000" {
		t.Fatalf("request 101 = %d, headers %v", r.status, r.header)
	}
	if s := g.Stats(); s.Throttled != 1 {
		t.Errorf("stats = %+v", s)
	}
}
