package connector

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeQuickBooks speaks quickbooks.go's documented shape for realm 123, behind tokenServer.
type fakeQuickBooks struct {
	tokens  tokenServer
	mu      sync.Mutex
	updates []map[string]any
}

var qbPaging = regexp.MustCompile(`STARTPOSITION (\d+) MAXRESULTS (\d+)$`)

func (f *fakeQuickBooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !f.tokens.gate(w, r, "Bearer") {
		return
	}
	customers := []map[string]any{
		{"Id": "3", "SyncToken": "0", "MetaData": map[string]any{"LastUpdatedTime": "2026-01-03T00:00:00-08:00"}},
		{"Id": "2", "SyncToken": "0", "MetaData": map[string]any{"LastUpdatedTime": "2026-01-02T00:00:00-08:00"}},
		{"Id": "1", "SyncToken": "0", "MetaData": map[string]any{"LastUpdatedTime": "2026-01-01T00:00:00-08:00"}},
	}
	switch {
	case r.URL.Path == "/v3/company/123/query":
		m := qbPaging.FindStringSubmatch(r.URL.Query().Get("query"))
		start, _ := strconv.Atoi(m[1])
		size, _ := strconv.Atoi(m[2])
		page := customers[min(start-1, 3):min(start-1+size, 3)]
		writeJSON(w, http.StatusOK, map[string]any{"QueryResponse": map[string]any{"Customer": page}})
	case r.Method == http.MethodGet && r.URL.Path == "/v3/company/123/customer/9":
		writeJSON(w, http.StatusOK, map[string]any{"Customer": map[string]any{"Id": "9", "SyncToken": "7"}})
	case r.Method == http.MethodPost && r.URL.Path == "/v3/company/123/customer":
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body["DisplayName"] == "Duplicate Name" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"Fault": map[string]any{"type": "ValidationFault",
				"Error": []any{map[string]any{"code": "6240", "element": "DisplayName", "Message": "Duplicate Name Duplicate Name exists"}}}})
			return
		}
		f.mu.Lock()
		f.updates = append(f.updates, body)
		f.mu.Unlock()
		id, _ := body["Id"].(string)
		if id == "" {
			id = "50"
		}
		writeJSON(w, http.StatusOK, map[string]any{"Customer": map[string]any{"Id": id}})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

var quickBooksCreds = oauthCreds(map[string]string{"realm_id": "123"})

func TestQuickBooksChangesPaginatesAfterTokenRefresh(t *testing.T) {
	fq := &fakeQuickBooks{}
	srv := newFake(t, fq)
	c := mustNew(t, SystemQuickBooks, srv.URL, quickBooksCreds, testOptions(srv.Server))
	pages := readAll(t, c)
	wantScan(t, pages, "3", "2", "1")
	wantOneRefresh(t, &fq.tokens)
	next, err := c.Changes(context.Background(), pages[1].Next)
	if err != nil {
		t.Fatal(err)
	}
	query := srv.requests[len(srv.requests)-1].URL.Query().Get("query")
	want := "select * from Customer where MetaData.LastUpdatedTime >= '2026-01-03T08:00:00Z' ORDERBY MetaData.LastUpdatedTime DESC STARTPOSITION 1 MAXRESULTS 2"
	if query != want || len(next.Records) == 0 {
		t.Errorf("next scan query = %q, want %q", query, want)
	}
}

func TestQuickBooksUpsert(t *testing.T) {
	fq := &fakeQuickBooks{}
	srv := newFake(t, fq)
	c := mustNew(t, SystemQuickBooks, srv.URL, quickBooksCreds, testOptions(srv.Server))
	id, err := c.Upsert(context.Background(), "", Record{Fields: map[string]any{"DisplayName": "Ann"}})
	if err != nil || id != "50" {
		t.Fatalf("create = %q, %v; want 50", id, err)
	}
	fields := map[string]any{"DisplayName": "Ann B"}
	id, err = c.Upsert(context.Background(), "9", Record{Fields: fields})
	if err != nil || id != "9" {
		t.Fatalf("update = %q, %v; want 9", id, err)
	}
	update := fq.updates[1]
	if update["SyncToken"] != "7" || update["sparse"] != true || update["Id"] != "9" || update["DisplayName"] != "Ann B" {
		t.Errorf("sparse update body = %v, want Id 9, SyncToken 7, sparse", update)
	}
	if _, ok := fields["SyncToken"]; ok {
		t.Error("Upsert changed the caller's fields")
	}
}

func TestQuickBooksRejectionNamesCodeNotValue(t *testing.T) {
	srv := newFake(t, &fakeQuickBooks{})
	c := mustNew(t, SystemQuickBooks, srv.URL, quickBooksCreds, testOptions(srv.Server))
	written, err := UpsertAll(context.Background(), c, []string{"", ""}, []Record{
		{ID: "a", Fields: map[string]any{"DisplayName": "Duplicate Name"}},
		{ID: "b", Fields: map[string]any{"DisplayName": "Fine"}},
	})
	var rec *RecordError
	if !errors.As(err, &rec) || rec.Index != 0 || !slices.Equal(written, []string{"", "50"}) {
		t.Fatalf("UpsertAll = %v, %v; want record 0 rejected and record 1 written", written, err)
	}
	if msg := err.Error(); !strings.Contains(msg, "HTTP 400 Bad Request (ValidationFault 6240 on field DisplayName)") || strings.Contains(msg, "Duplicate Name") {
		t.Errorf("error = %q, want the fault code and no field value", msg)
	}
}

func TestOAuthRefusedRefreshTokenIsPermanent(t *testing.T) {
	srv := newFake(t, &fakeQuickBooks{})
	creds := oauthCreds(map[string]string{"realm_id": "123", "refresh_token": "revoked"})
	c := mustNew(t, SystemQuickBooks, srv.URL, creds, testOptions(srv.Server))
	_, err := c.Changes(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), "refresh OAuth2 access token: HTTP 400 Bad Request (invalid_grant)") {
		t.Fatalf("Changes = %v, want the token endpoint's refusal", err)
	}
	if n := srv.seen("/token"); n != 1 {
		t.Errorf("token endpoint saw %d requests, want 1 (no retry of a refused grant)", n)
	}
	if strings.Contains(err.Error(), "revoked") || strings.Contains(err.Error(), "csecret") {
		t.Errorf("error leaks a credential: %v", err)
	}
}
