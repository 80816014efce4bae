package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
	zohocrm "github.com/tenantwire/tenantwire/internal/connector/zoho"
	"github.com/tenantwire/tenantwire/internal/record"
	"github.com/tenantwire/tenantwire/internal/record/recordtest"
)

// fakeZoho is Zoho CRM v8 held to the definitions under internal/connector/zoho/testdata: it
// refuses a list without the fields parameter or past the 2,000 records page numbers reach, and a
// write body the definition refuses, in Zoho's own error shape (zohocrm.Refusal). Its own list
// answers are checked against the list definition too.
type fakeZoho struct {
	t        *testing.T
	tokens   *fakesystem.Tokens
	contacts []map[string]any // newest first
	// refuseEmail is an address Zoho answers with a per-record INVALID_DATA (a 2xx answer).
	refuseEmail string
	// lapsed are page tokens answered as expired.
	lapsed []string

	mu     sync.Mutex
	writes []writeSeen
}

type writeSeen struct {
	method, path string
	body         []byte
}

// newFakeZoho holds n contacts changed one minute apart, the newest first.
func newFakeZoho(t *testing.T, n int) *fakeZoho {
	f := &fakeZoho{t: t, tokens: testTokens()}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := n; i >= 1; i-- {
		f.contacts = append(f.contacts, map[string]any{
			"id": fmt.Sprintf("41508680000%05d", i), "Modified_Time": start.Add(time.Duration(i) * time.Minute).Format(time.RFC3339),
			"Last_Name": fmt.Sprintf("Patient%d", i), "Email": fmt.Sprintf("p%d@example.org", i),
			// A field the codec does not map: returned only when asked for, and never decoded.
			"Description": "clinical remark",
		})
	}
	return f
}

func (f *fakeZoho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !f.tokens.Authorize(w, r, "Zoho-oauthtoken") {
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/crm/v8/Contacts":
		f.list(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/crm/v8/Contacts/upsert":
		f.write(w, r, zohocrm.ContactsDefinition, "z-new")
	case r.Method == http.MethodPut && r.URL.Path == "/crm/v8/Contacts":
		f.write(w, r, zohocrm.ContactsUpdateDefinition, "")
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/crm/v8/Contacts/"):
		f.write(w, r, zohocrm.ContactsUpdateDefinition, strings.TrimPrefix(r.URL.Path, "/crm/v8/Contacts/"))
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"code": "INVALID_URL_PATTERN", "status": "error", "message": "invalid url", "details": map[string]any{}})
	}
}

func zohoParamError(w http.ResponseWriter, code, param string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"code": code, "status": "error", "message": "refused", "details": map[string]any{"param_name": param}})
}

func (f *fakeZoho) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("fields") == "" {
		zohoParamError(w, "REQUIRED_PARAM_MISSING", "fields")
		return
	}
	fields := strings.Split(q.Get("fields"), ",")
	per, _ := strconv.Atoi(q.Get("per_page"))
	contacts := f.contacts
	if since := r.Header.Get("If-Modified-Since"); since != "" {
		bound, err := time.Parse(time.RFC3339, since)
		if err != nil {
			zohoParamError(w, "INVALID_DATA", "If-Modified-Since")
			return
		}
		contacts = slices.DeleteFunc(slices.Clone(contacts), func(c map[string]any) bool {
			t, _ := time.Parse(time.RFC3339, c["Modified_Time"].(string))
			return !t.After(bound)
		})
	}
	var from int
	switch token := q.Get("page_token"); {
	case token != "" && q.Has("page"):
		zohoParamError(w, "AMBIGUITY_DURING_PROCESSING", "page")
		return
	case slices.Contains(f.lapsed, token):
		writeJSON(w, http.StatusBadRequest, map[string]any{"code": "EXPIRED_VALUE", "status": "error", "message": "expired", "details": map[string]any{"api_name": "page_token", "json_path": "$.page_token"}})
		return
	case token != "":
		from, _ = strconv.Atoi(strings.TrimPrefix(token, "tok-"))
	default:
		page, _ := strconv.Atoi(q.Get("page"))
		if page > zohocrm.MaxPages {
			writeJSON(w, http.StatusBadRequest, map[string]any{"code": "DISCRETE_PAGINATION_LIMIT_EXCEEDED", "status": "error", "message": "use page_token", "details": map[string]any{"limit": 2000}})
			return
		}
		from = (page - 1) * per
	}
	if from >= len(contacts) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	to := min(from+per, len(contacts))
	data := make([]map[string]any, 0, to-from)
	for _, c := range contacts[from:to] {
		out := map[string]any{"id": c["id"]}
		for _, name := range fields {
			if v, ok := c[name]; ok {
				out[name] = v
			}
		}
		data = append(data, out)
	}
	info := map[string]any{"page": 1, "per_page": per, "count": len(data), "more_records": to < len(contacts),
		"sort_by": q.Get("sort_by"), "sort_order": q.Get("sort_order"), "next_page_token": nil}
	if to < len(contacts) {
		info["next_page_token"] = "tok-" + strconv.Itoa(to)
	}
	answer, _ := json.Marshal(map[string]any{"data": data, "info": info})
	d, _ := zohocrm.ContactsListDefinition()
	if v := d.Check(answer); len(v) != 0 {
		f.t.Errorf("the fake's list answer breaks the definition: %v", v)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(answer)
}

func (f *fakeZoho) write(w http.ResponseWriter, r *http.Request, definition func() (*contract.Definition, error), id string) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.writes = append(f.writes, writeSeen{method: r.Method, path: r.URL.Path, body: body})
	f.mu.Unlock()
	d, err := definition()
	if err != nil {
		f.t.Fatal(err)
	}
	if v := d.Check(body); len(v) != 0 {
		status, answer := zohocrm.Refusal(v)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(answer)
		return
	}
	var in struct {
		Data []map[string]any `json:"data"`
	}
	_ = json.Unmarshal(body, &in)
	// One result per record, in order; 207 when they differ, 400 when every record failed.
	results := make([]any, len(in.Data))
	failed := 0
	for k, c := range in.Data {
		recordID := id
		switch {
		case recordID == "" && r.Method == http.MethodPut:
			recordID, _ = c["id"].(string)
		case recordID == "z-new" && k > 0:
			recordID = fmt.Sprintf("z-new-%d", k)
		}
		switch {
		case recordID == "":
			failed++
			results[k] = zohocrm.Exception{Code: "MANDATORY_NOT_FOUND", Status: "error", Message: "required field not found",
				Details: zohocrm.ExceptionDetails{APIName: "id", JSONPath: fmt.Sprintf("$.data[%d].id", k)}}
		case f.refuseEmail != "" && c["Email"] == f.refuseEmail:
			failed++
			results[k] = zohocrm.Exception{Code: "INVALID_DATA", Status: "error", Message: "invalid data " + f.refuseEmail,
				Details: zohocrm.ExceptionDetails{APIName: "Email", JSONPath: fmt.Sprintf("$.data[%d].Email", k)}}
		default:
			results[k] = map[string]any{"code": "SUCCESS", "status": "success", "message": "record saved", "details": map[string]any{"id": recordID}}
		}
	}
	status := http.StatusOK
	switch {
	case failed == len(in.Data) && len(in.Data) > 1:
		status = http.StatusBadRequest
	case failed > 0 && len(in.Data) > 1:
		status = http.StatusMultiStatus
	}
	writeJSON(w, status, map[string]any{"data": results})
}

func TestZohoChangesAsksForTheMappedFieldsAndPagesOnWithPageTokens(t *testing.T) {
	// Page size 2: the ten numbered pages reach 20 contacts, the other five come by page token.
	fz := newFakeZoho(t, 25)
	srv := newFake(t, fz)
	c := mustNew(t, SystemZoho, srv.URL, oauthCreds(nil), testOptions(srv.Server))
	var got []string
	cursor := ""
	for range 20 {
		page, err := c.Changes(context.Background(), cursor)
		if err != nil {
			t.Fatalf("Changes: %v", err)
		}
		for _, r := range page.Records {
			got = append(got, r.ID)
			if r.Patient.Source.ID != r.ID || r.Patient.Name.Family == "" || r.UpdatedAt.IsZero() {
				t.Fatalf("record %s = %+v; want its decoded canonical patient and no raw fields", r.ID, r)
			}
		}
		cursor = page.Next
		if !page.More {
			break
		}
	}
	want := make([]string, 0, 25)
	for _, c := range fz.contacts {
		want = append(want, c["id"].(string))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("read %v\nwant %v", got, want)
	}
	wantOneRefresh(t, fz.tokens)
	var tokens int
	for _, r := range srv.requests {
		if r.URL.Path != "/crm/v8/Contacts" {
			continue
		}
		if f := r.URL.Query().Get("fields"); f != strings.Join(zohocrm.ListFields(), ",") {
			t.Errorf("fields = %q, want the API names the codec maps", f)
		}
		if r.URL.Query().Has("page_token") {
			tokens++
		}
	}
	if tokens != 3 {
		t.Errorf("%d requests with a page token, want 3 (contacts 21 to 25)", tokens)
	}
	// Nothing changed since: the next scan reads only the newest contact again, inside the
	// overlap that keeps a change in the same second from being skipped.
	next, err := c.Changes(context.Background(), cursor)
	if err != nil || len(next.Records) != 1 || next.Records[0].ID != want[0] || next.More {
		t.Fatalf("Changes after the scan = %+v, %v; want the newest contact again and no more", next, err)
	}
	if got := srv.requests[len(srv.requests)-1].Header.Get("If-Modified-Since"); got != "2026-01-01T00:24:59Z" {
		t.Errorf("If-Modified-Since = %q, want the newest change less the overlap", got)
	}
}

func TestZohoChangesReadsAScanAgainWhenItsPageTokenLapsed(t *testing.T) {
	fz := newFakeZoho(t, 23)
	fz.lapsed = []string{"tok-20"}
	srv := newFake(t, fz)
	c := mustNew(t, SystemZoho, srv.URL, oauthCreds(nil), testOptions(srv.Server))
	cursor := ""
	for range 10 {
		page, err := c.Changes(context.Background(), cursor)
		if err != nil {
			t.Fatal(err)
		}
		cursor = page.Next
	}
	page, err := c.Changes(context.Background(), cursor)
	if err != nil || len(page.Records) != 0 || !page.More {
		t.Fatalf("Changes with a lapsed token = %+v, %v; want an empty page with more to come", page, err)
	}
	fz.lapsed = nil
	page, err = c.Changes(context.Background(), page.Next)
	if err != nil || len(page.Records) != 2 || page.Records[0].ID != fz.contacts[0]["id"] {
		t.Fatalf("Changes after the lapse = %+v, %v; want the scan's first page again", page, err)
	}
	if last := srv.requests[len(srv.requests)-1].URL.Query(); last.Get("page") != "1" || last.Has("page_token") {
		t.Errorf("query after the lapse = %v, want page 1 without a token", last)
	}
}

// sourceRecord is what the runtime hands a destination: a planted patient authorized for fields,
// with the source's ID, which must never be sent.
func sourceRecord(fields record.Set) Record {
	return Record{
		ID: recordtest.SourceID, PatientID: recordtest.SourceID,
		Patient: record.Authorize(recordtest.Planted(), fields),
	}
}

// TestZohoWritesOnlyTheAuthorizedFieldsTheCodecEncodes plays the runtime handing over a record
// whose raw source object carries a clinical note and the source's ID: the create and the update
// bodies are Zoho's definition (the fake refuses anything else), hold exactly the authorized
// fields a Contact can hold, and never the source's ID, as a property or a value.
func TestZohoWritesOnlyTheAuthorizedFieldsTheCodecEncodes(t *testing.T) {
	fz := newFakeZoho(t, 0)
	srv := newFake(t, fz)
	c := mustNew(t, SystemZoho, srv.URL, oauthCreds(nil), testOptions(srv.Server))
	fields := record.DefaultMinimum()
	created, err := c.Upsert(context.Background(), "", sourceRecord(fields))
	if err != nil || created != "z-new" {
		t.Fatalf("create = %q, %v", created, err)
	}
	updated, err := c.Upsert(context.Background(), "4150868000000002175", sourceRecord(fields))
	if err != nil || updated != "4150868000000002175" {
		t.Fatalf("update = %q, %v", updated, err)
	}
	if len(fz.writes) != 2 || fz.writes[0].path != "/crm/v8/Contacts/upsert" || fz.writes[1].method != http.MethodPut ||
		fz.writes[1].path != "/crm/v8/Contacts/4150868000000002175" {
		t.Fatalf("writes = %+v, want an upsert and an update of the known Contact", fz.writes)
	}
	for _, w := range fz.writes {
		recordtest.AssertOnly(t, w.body, fields.Intersect(zohocrm.Holds))
		if bytes.Contains(w.body, []byte(`"id"`)) || bytes.Contains(w.body, []byte("hypertension")) {
			t.Errorf("%s %s body = %s; it must carry neither an id nor a raw source field", w.method, w.path, w.body)
		}
	}
	if !bytes.Contains(fz.writes[0].body, []byte(`"duplicate_check_fields":["Email"]`)) {
		t.Errorf("upsert body = %s, want Email as the duplicate check field", fz.writes[0].body)
	}
}

func TestZohoRejectionsNameTheCodeAndFieldNeverTheValue(t *testing.T) {
	fz := newFakeZoho(t, 0)
	fz.refuseEmail = "refused@example.org"
	srv := newFake(t, fz)
	c := mustNew(t, SystemZoho, srv.URL, oauthCreds(nil), testOptions(srv.Server))
	noFamilyName := record.Patient{Name: record.Name{Given: "Ignatia"}, Email: "ignatia.q@example.org"}
	refused := record.Patient{Name: record.Name{Family: "Quillfeather"}, Email: fz.refuseEmail}
	written, err := UpsertAll(context.Background(), c, []string{"", "", ""}, []Record{
		{ID: "a", Patient: record.Patient{Name: record.Name{Family: "Lovelace"}, Email: "ada@example.org"}},
		{ID: "b", Patient: noFamilyName},
		{ID: "c", Patient: refused},
	})
	if !slices.Equal(written, []string{"z-new", "", ""}) {
		t.Errorf("written = %v", written)
	}
	if len(fz.writes) != 2 {
		t.Errorf("%d writes, want 2: the patient without a family name is refused before sending", len(fz.writes))
	}
	msg := fmt.Sprint(err)
	for _, want := range []string{
		"record 1 of the batch rejected: connector: zoho: upsert contact: record rejected (NOT_ENCODABLE on field Last_Name)",
		"record 2 of the batch rejected: connector: zoho: upsert contact: record rejected (INVALID_DATA on field Email)",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	for _, value := range []string{fz.refuseEmail, "Ignatia", "Quillfeather"} {
		if strings.Contains(msg, value) {
			t.Errorf("error leaks the value %q: %s", value, msg)
		}
	}
}
