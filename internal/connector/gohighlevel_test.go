package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
	"github.com/tenantwire/tenantwire/internal/connector/gohighlevel"
	"github.com/tenantwire/tenantwire/internal/record"
	"github.com/tenantwire/tenantwire/internal/record/recordtest"
)

// fakeGoHighLevel is GoHighLevel's API v2 for location loc-1, held to the definitions under
// internal/connector/gohighlevel/testdata: it answers a body the definition refuses with its 422
// shape (gohighlevel.Refusal), searches by dateUpdated as documented, and checks its own contacts
// against the contact definition. Its first search is rate limited.
type fakeGoHighLevel struct {
	t        *testing.T
	tokens   *fakesystem.Tokens
	contacts []map[string]any // oldest change first
	// refuseEmail is an address answered 422 "email must be an email".
	refuseEmail string
	limited     atomic.Bool

	mu     sync.Mutex
	writes []writeSeen
}

func (f *fakeGoHighLevel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !f.tokens.Authorize(w, r, "Bearer") {
		return
	}
	if r.Header.Get("Version") != gohighlevel.APIVersion {
		writeJSON(w, http.StatusBadRequest, map[string]any{"statusCode": 400, "message": "missing Version"})
		return
	}
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/contacts/search":
		f.search(w, body)
	case r.Method == http.MethodPost && r.URL.Path == "/contacts/upsert":
		f.write(w, r, body, gohighlevel.ContactDefinition, "g7")
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/contacts/"):
		f.write(w, r, body, gohighlevel.UpdateDefinition, strings.TrimPrefix(r.URL.Path, "/contacts/"))
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"statusCode": 404, "message": "Not Found"})
	}
}

func (f *fakeGoHighLevel) refuse(w http.ResponseWriter, v []contract.Violation) {
	status, answer := gohighlevel.Refusal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(answer)
}

func (f *fakeGoHighLevel) search(w http.ResponseWriter, body []byte) {
	if !f.limited.Swap(true) {
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Interval-Milliseconds", "20")
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	d, _ := gohighlevel.SearchDefinition()
	if v := d.Check(body); len(v) != 0 {
		f.refuse(w, v)
		return
	}
	var s gohighlevel.Search
	_ = json.Unmarshal(body, &s)
	if s.LocationID != "loc-1" || s.Page < 1 || !slices.Equal(s.Sort, []gohighlevel.Sort{{Field: "dateUpdated", Direction: "asc"}}) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"statusCode": 422, "message": []string{"unexpected search"}})
		return
	}
	matched := f.contacts
	if len(s.Filters) == 1 {
		gte := s.Filters[0].Value.Gte
		matched = slices.DeleteFunc(slices.Clone(matched), func(c map[string]any) bool { return c["dateUpdated"].(string) < gte })
	}
	from := min((s.Page-1)*s.PageLimit, len(matched))
	to := min(from+s.PageLimit, len(matched))
	contacts := matched[from:to]
	listed, _ := gohighlevel.ListedDefinition()
	for _, c := range contacts {
		raw, _ := json.Marshal(c)
		if v := listed.Check(raw); len(v) != 0 {
			f.t.Errorf("the fake's contact breaks the definition: %v", v)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"contacts": contacts, "total": len(matched)})
}

func (f *fakeGoHighLevel) write(w http.ResponseWriter, r *http.Request, body []byte, definition func() (*contract.Definition, error), id string) {
	f.mu.Lock()
	f.writes = append(f.writes, writeSeen{method: r.Method, path: r.URL.Path, body: body})
	f.mu.Unlock()
	d, err := definition()
	if err != nil {
		f.t.Fatal(err)
	}
	if v := d.Check(body); len(v) != 0 {
		f.refuse(w, v)
		return
	}
	if f.refuseEmail != "" && bytes.Contains(body, []byte(f.refuseEmail)) {
		writeJSON(w, http.StatusUnprocessableEntity, gohighlevel.Unprocessable{StatusCode: 422, Message: []string{"email must be an email"}, Error: "Unprocessable Entity"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"new": r.Method == http.MethodPost, "succeded": true, "contact": map[string]any{"id": id}})
}

var goHighLevelCreds = oauthCreds(map[string]string{"location_id": "loc-1"})

func ghlContact(id, updated string) map[string]any {
	return map[string]any{"id": id, "locationId": "loc-1", "lastName": "Patient " + id, "email": id + "@example.org",
		"dateAdded": "2026-01-01T00:00:00.000Z", "dateUpdated": updated, "tags": []string{"diabetic"}}
}

func TestGoHighLevelSearchesChangesThroughRateLimitAndRefresh(t *testing.T) {
	// Pages of two; g3, g4 and g5 changed in the same millisecond, more than a page holds.
	fg := &fakeGoHighLevel{t: t, tokens: testTokens(), contacts: []map[string]any{
		ghlContact("g1", "2026-01-01T00:00:00.000Z"), ghlContact("g2", "2026-01-01T00:10:00.000Z"),
		ghlContact("g3", "2026-01-01T00:20:00.000Z"), ghlContact("g4", "2026-01-01T00:20:00.000Z"),
		ghlContact("g5", "2026-01-01T00:20:00.000Z"), ghlContact("g6", "2026-01-01T00:30:00.000Z"),
	}}
	srv := newFake(t, fg)
	o := testOptions(srv.Server)
	var waits []time.Duration
	o.OnRetry = func(_ error, wait time.Duration) { waits = append(waits, wait) }
	c := mustNew(t, SystemGoHighLevel, srv.URL, goHighLevelCreds, o)
	var read []string
	cursor := ""
	for range 10 {
		page, err := c.Changes(context.Background(), cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Records {
			read = append(read, r.ID)
			if r.Patient.Source.ID != r.ID || r.Patient.Email != r.ID+"@example.org" {
				t.Fatalf("record %s = %+v; want its decoded canonical patient and no raw fields", r.ID, r)
			}
		}
		cursor = page.Next
		if !page.More {
			break
		}
	}
	// A full page moves the bound to its newest change, read again inclusively; the page of ties
	// moves on by page number.
	if want := []string{"g1", "g2", "g2", "g3", "g3", "g4", "g5", "g6", "g6"}; !slices.Equal(read, want) {
		t.Fatalf("read %v, want %v", read, want)
	}
	wantOneRefresh(t, fg.tokens)
	if !slices.Equal(waits, []time.Duration{20 * time.Millisecond}) {
		t.Errorf("waits = %v, want the 20ms rate-limit interval once", waits)
	}
	// The next cycle reads only what changed within the index lag of the newest change.
	next, err := c.Changes(context.Background(), cursor)
	if err != nil || len(next.Records) != 1 || next.Records[0].ID != "g6" || next.More {
		t.Fatalf("next cycle = %+v, %v; want g6 again and no more", next, err)
	}
	if last := fg.writes; len(last) != 0 {
		t.Errorf("a read wrote %d times", len(last))
	}
}

// TestGoHighLevelWritesOnlyTheAuthorizedFieldsTheCodecEncodes plays the runtime handing over a
// record whose raw source object carries a clinical note and the source's ID: the upsert and the
// update are GoHighLevel's published bodies (the fake refuses anything else, as GoHighLevel does
// with 422), hold exactly the authorized fields each can hold, and never the source's ID.
func TestGoHighLevelWritesOnlyTheAuthorizedFieldsTheCodecEncodes(t *testing.T) {
	for name, fields := range map[string]record.Set{"default": record.DefaultMinimum(), "everything": recordtest.FieldSets()["everything"]} {
		t.Run(name, func(t *testing.T) {
			fg := &fakeGoHighLevel{t: t, tokens: testTokens()}
			srv := newFake(t, fg)
			c := mustNew(t, SystemGoHighLevel, srv.URL, goHighLevelCreds, testOptions(srv.Server))
			if id, err := c.Upsert(context.Background(), "", sourceRecord(fields)); err != nil || id != "g7" {
				t.Fatalf("create = %q, %v", id, err)
			}
			if id, err := c.Upsert(context.Background(), "g9", sourceRecord(fields)); err != nil || id != "g9" {
				t.Fatalf("update = %q, %v", id, err)
			}
			if len(fg.writes) != 2 || fg.writes[0].path != "/contacts/upsert" || fg.writes[1].path != "/contacts/g9" {
				t.Fatalf("writes = %+v", fg.writes)
			}
			recordtest.AssertOnly(t, fg.writes[0].body, fields.Intersect(gohighlevel.Holds))
			recordtest.AssertOnly(t, fg.writes[1].body, fields.Intersect(gohighlevel.UpdateHolds))
			if !bytes.Contains(fg.writes[0].body, []byte(`"locationId":"loc-1"`)) || bytes.Contains(fg.writes[1].body, []byte("locationId")) {
				t.Errorf("bodies = %s and %s; want the location on the upsert only", fg.writes[0].body, fg.writes[1].body)
			}
			for _, w := range fg.writes {
				if bytes.Contains(w.body, []byte(`"id"`)) || bytes.Contains(w.body, []byte("hypertension")) {
					t.Errorf("%s body = %s; it must carry neither an id nor a raw source field", w.path, w.body)
				}
			}
		})
	}
}

func TestGoHighLevelRejectionsNameTheCodeAndFieldNeverTheValue(t *testing.T) {
	fg := &fakeGoHighLevel{t: t, tokens: testTokens(), refuseEmail: "refused@example.org"}
	srv := newFake(t, fg)
	c := mustNew(t, SystemGoHighLevel, srv.URL, goHighLevelCreds, testOptions(srv.Server))
	written, err := UpsertAll(context.Background(), c, []string{"", "", ""}, []Record{
		{ID: "a", Patient: record.Patient{Name: record.Name{Family: "Lovelace"}, Phone: "+1 555 0100"}},
		{ID: "b", Patient: record.Patient{Name: record.Name{Family: "Quillfeather"}}},
		{ID: "c", Patient: record.Patient{Name: record.Name{Family: "Quillfeather"}, Email: fg.refuseEmail}},
	})
	if !slices.Equal(written, []string{"g7", "", ""}) {
		t.Errorf("written = %v", written)
	}
	if len(fg.writes) != 2 {
		t.Errorf("%d writes, want 2: the patient with neither email nor phone is refused before sending", len(fg.writes))
	}
	msg := fmt.Sprint(err)
	for _, want := range []string{
		"record 1 of the batch rejected: connector: gohighlevel: upsert contact: record rejected (NOT_ENCODABLE)",
		"record 2 of the batch rejected: connector: gohighlevel: upsert contact: HTTP 422 Unprocessable Entity (422 on field email)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	for _, value := range []string{fg.refuseEmail, "Quillfeather"} {
		if strings.Contains(msg, value) {
			t.Errorf("error leaks the value %q: %s", value, msg)
		}
	}
}

func TestMissingCredentialsNamed(t *testing.T) {
	tests := map[string]struct {
		system string
		creds  Credentials
		want   string
	}{
		"cerbo":       {SystemCerbo, Credentials{"username": []byte("u")}, "missing credential file(s) api_key"},
		"quickbooks":  {SystemQuickBooks, Credentials{"client_id": []byte("secret-id")}, "missing credential file(s) client_secret, realm_id, refresh_token"},
		"zoho":        {SystemZoho, Credentials{"client_secret": []byte("secret-id"), "refresh_token": []byte("  \n")}, "missing credential file(s) client_id, refresh_token"},
		"gohighlevel": {SystemGoHighLevel, oauthCreds(nil), "missing credential file(s) location_id"},
		"webhook":     {SystemWebhook, nil, "missing credential file(s) signing_secret"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := New(tt.system, "https://example.invalid", tt.creds, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret-id") {
				t.Errorf("error leaks a value: %v", err)
			}
		})
	}
	if _, err := New("salesforce", "https://example.invalid", nil, Options{}); err == nil || !strings.Contains(err.Error(), `unknown system "salesforce"`) {
		t.Errorf("New(salesforce) = %v", err)
	}
}
