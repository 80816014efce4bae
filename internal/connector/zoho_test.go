package connector

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
)

// fakeZoho speaks zoho.go's documented shape over three contacts, behind testTokens.
type fakeZoho struct {
	tokens  *fakesystem.Tokens
	mu      sync.Mutex
	upserts []map[string]any
}

func (f *fakeZoho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !f.tokens.Authorize(w, r, "Zoho-oauthtoken") {
		return
	}
	switch r.URL.Path {
	case "/crm/v2/Contacts":
		if r.Header.Get("If-Modified-Since") != "" {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		contacts := []map[string]any{
			{"id": "z3", "Modified_Time": "2026-01-03T10:00:00+05:30"},
			{"id": "z2", "Modified_Time": "2026-01-02T10:00:00+05:30"},
			{"id": "z1", "Modified_Time": "2026-01-01T10:00:00+05:30"},
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		from := min((page-1)*per, len(contacts))
		to := min(from+per, len(contacts))
		writeJSON(w, http.StatusOK, map[string]any{"data": contacts[from:to], "info": map[string]any{"more_records": to < len(contacts), "page": page}})
	case "/crm/v2/Contacts/upsert":
		var body struct {
			Data           []map[string]any `json:"data"`
			DuplicateCheck []string         `json:"duplicate_check_fields"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		contact := body.Data[0]
		f.mu.Lock()
		f.upserts = append(f.upserts, contact)
		f.mu.Unlock()
		switch {
		case !slices.Equal(body.DuplicateCheck, []string{"Email"}):
			w.WriteHeader(http.StatusBadRequest)
		case contact["Email"] == "bad@":
			writeJSON(w, http.StatusOK, map[string]any{"data": []any{map[string]any{
				"code": "INVALID_DATA", "status": "error", "message": "invalid data bad@", "details": map[string]any{"api_name": "Email"}}}})
		case contact["Email"] == "worse@":
			writeJSON(w, http.StatusBadRequest, map[string]any{"data": []any{map[string]any{
				"code": "MANDATORY_NOT_FOUND", "status": "error", "details": map[string]any{"api_name": "Last_Name"}}}})
		default:
			id, _ := contact["id"].(string)
			if id == "" {
				id = "z-new"
			}
			writeJSON(w, http.StatusOK, map[string]any{"data": []any{map[string]any{
				"code": "SUCCESS", "status": "success", "details": map[string]any{"id": id}}}})
		}
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestZohoChangesPaginatesAfterTokenRefresh(t *testing.T) {
	fz := &fakeZoho{tokens: testTokens()}
	srv := newFake(t, fz)
	c := mustNew(t, SystemZoho, srv.URL, oauthCreds(nil), testOptions(srv.Server))
	pages := readAll(t, c)
	wantScan(t, pages, "z3", "z2", "z1")
	wantOneRefresh(t, fz.tokens)
	// Nothing changed since: Zoho answers 304, an empty page, and the bound stays.
	next, err := c.Changes(context.Background(), pages[1].Next)
	if err != nil || len(next.Records) != 0 || next.More || next.Next != pages[1].Next {
		t.Fatalf("Changes after the scan = %+v, %v; want an empty page keeping the cursor", next, err)
	}
	if got := srv.requests[len(srv.requests)-1].Header.Get("If-Modified-Since"); got != "2026-01-03T04:29:59Z" {
		t.Errorf("If-Modified-Since = %q, want the newest change less the overlap", got)
	}
}

func TestZohoUpsert(t *testing.T) {
	fz := &fakeZoho{tokens: testTokens()}
	srv := newFake(t, fz)
	c := mustNew(t, SystemZoho, srv.URL, oauthCreds(nil), testOptions(srv.Server))
	written, err := UpsertAll(context.Background(), c, []string{"", "z9", "", ""}, []Record{
		{ID: "a", Fields: map[string]any{"Email": "a@example.com"}},
		{ID: "b", Fields: map[string]any{"Email": "b@example.com"}},
		{ID: "c", Fields: map[string]any{"Email": "bad@"}},
		{ID: "d", Fields: map[string]any{"Email": "worse@"}},
	})
	if !slices.Equal(written, []string{"z-new", "z9", "", ""}) {
		t.Errorf("written = %v", written)
	}
	if fz.upserts[1]["id"] != "z9" {
		t.Errorf("update did not name the contact's id: %v", fz.upserts[1])
	}
	var rec *RecordError
	if !errors.As(err, &rec) || rec.Index != 2 {
		t.Fatalf("error = %v, want record 2 rejected first", err)
	}
	msg := err.Error()
	for _, want := range []string{"record 2 of the batch rejected: connector: zoho: upsert contact: record rejected (INVALID_DATA on field Email)",
		"record 3 of the batch rejected: connector: zoho: upsert contact: HTTP 400 Bad Request (MANDATORY_NOT_FOUND on field Last_Name)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "bad@") {
		t.Errorf("error leaks a field value: %q", msg)
	}
}
