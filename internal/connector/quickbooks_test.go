package connector

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
)

// newFakeQuickBooks serves realm 123 for quickBooksCreds with these customers, behind testTokens.
func newFakeQuickBooks(customers ...map[string]any) *fakesystem.QuickBooks {
	return fakesystem.NewQuickBooks("123", testTokens(), customers...)
}

func customer(id, syncToken, displayName, updated string) map[string]any {
	return map[string]any{"Id": id, "SyncToken": syncToken, "DisplayName": displayName, "MetaData": map[string]any{"LastUpdatedTime": updated}}
}

// threeCustomers were last updated on three days in a time zone west of UTC.
var threeCustomers = []map[string]any{
	customer("3", "0", "C", "2026-01-03T00:00:00-08:00"),
	customer("2", "0", "B", "2026-01-02T00:00:00-08:00"),
	customer("1", "0", "A", "2026-01-01T00:00:00-08:00"),
}

var quickBooksCreds = oauthCreds(map[string]string{"realm_id": "123"})

func TestQuickBooksChangesPaginatesAfterTokenRefresh(t *testing.T) {
	fq := newFakeQuickBooks(threeCustomers...)
	srv := newFake(t, fq)
	c := mustNew(t, SystemQuickBooks, srv.URL, quickBooksCreds, testOptions(srv.Server))
	pages := readAll(t, c)
	wantScan(t, pages, "3", "2", "1")
	wantOneRefresh(t, fq.Tokens)
	next, err := c.Changes(context.Background(), pages[1].Next)
	if err != nil {
		t.Fatal(err)
	}
	query := srv.requests[len(srv.requests)-1].URL.Query().Get("query")
	want := "select * from Customer where MetaData.LastUpdatedTime >= '2026-01-03T08:00:00Z' ORDERBY MetaData.LastUpdatedTime DESC STARTPOSITION 1 MAXRESULTS 2"
	if query != want || !slices.Equal(ids([]Page{next}), []string{"3"}) {
		t.Errorf("next scan query = %q, want %q", query, want)
	}
}

func TestQuickBooksUpsert(t *testing.T) {
	fq := newFakeQuickBooks(customer("9", "7", "Bea", "2026-01-01T00:00:00Z"))
	srv := newFake(t, fq)
	c := mustNew(t, SystemQuickBooks, srv.URL, quickBooksCreds, testOptions(srv.Server))
	id, err := c.Upsert(context.Background(), "", Record{Fields: map[string]any{"DisplayName": "Ann"}})
	if err != nil || id != "10" {
		t.Fatalf("create = %q, %v; want 10", id, err)
	}
	// The fake refuses an update that is not sparse or not at the current SyncToken, 7.
	fields := map[string]any{"DisplayName": "Bea B"}
	id, err = c.Upsert(context.Background(), "9", Record{Fields: fields})
	if err != nil || id != "9" {
		t.Fatalf("update = %q, %v; want 9", id, err)
	}
	if got := fq.Customer("9"); got["DisplayName"] != "Bea B" || got["SyncToken"] != "8" {
		t.Errorf("customer 9 after the update = %v, want DisplayName Bea B at SyncToken 8", got)
	}
	if created, updated := fq.Counts(); created != 1 || updated != 1 {
		t.Errorf("created %d, updated %d; want 1 and 1", created, updated)
	}
	if _, ok := fields["SyncToken"]; ok {
		t.Error("Upsert changed the caller's fields")
	}
}

func TestQuickBooksRejectionNamesCodeNotValue(t *testing.T) {
	srv := newFake(t, newFakeQuickBooks(customer("1", "0", "Duplicate Name", "2026-01-01T00:00:00Z")))
	c := mustNew(t, SystemQuickBooks, srv.URL, quickBooksCreds, testOptions(srv.Server))
	written, err := UpsertAll(context.Background(), c, []string{"", ""}, []Record{
		{ID: "a", Fields: map[string]any{"DisplayName": "Duplicate Name"}},
		{ID: "b", Fields: map[string]any{"DisplayName": "Fine"}},
	})
	var rec *RecordError
	if !errors.As(err, &rec) || rec.Index != 0 || !slices.Equal(written, []string{"", "2"}) {
		t.Fatalf("UpsertAll = %v, %v; want record 0 rejected and record 1 written", written, err)
	}
	if msg := err.Error(); !strings.Contains(msg, "HTTP 400 Bad Request (ValidationFault 6240 on field DisplayName)") || strings.Contains(msg, "Duplicate Name") {
		t.Errorf("error = %q, want the fault code and no field value", msg)
	}
}

func TestOAuthRefusedRefreshTokenIsPermanent(t *testing.T) {
	srv := newFake(t, newFakeQuickBooks())
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

func TestQuickBooksCreateCarriesTheIdempotencyKey(t *testing.T) {
	fq := newFakeQuickBooks(customer("9", "7", "Bea", "2026-01-01T00:00:00Z"))
	srv := newFake(t, fq)
	c := mustNew(t, SystemQuickBooks, srv.URL, quickBooksCreds, testOptions(srv.Server))
	if _, err := c.Upsert(context.Background(), "", Record{IdempotencyKey: "k-1", Fields: map[string]any{"DisplayName": "Ann"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Upsert(context.Background(), "9", Record{IdempotencyKey: "k-2", Fields: map[string]any{"DisplayName": "Bea B"}}); err != nil {
		t.Fatal(err)
	}
	var requestIDs []string
	for _, r := range srv.requests {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/customer") {
			requestIDs = append(requestIDs, r.URL.Query().Get("requestid"))
		}
	}
	// The first create meets the fake's expired token and is retried: under the same requestid.
	if !slices.Equal(requestIDs, []string{"k-1", "k-1", ""}) {
		t.Errorf("requestid of the create attempts and the update = %q, want [k-1 k-1 \"\"]: only creates are deduplicated", requestIDs)
	}
}
