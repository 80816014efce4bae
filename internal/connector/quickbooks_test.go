package connector

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
	"github.com/tenantwire/tenantwire/internal/record"
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
	if first := pages[0].Records[0]; first.Patient.Name.Display != "C" || first.Patient.Source.ID != "3" || !first.UpdatedAt.Equal(ts("2026-01-03T08:00:00Z")) {
		t.Errorf("first record = %+v", first)
	}
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
	id, err := c.Upsert(context.Background(), "", Record{Patient: named("Ann")})
	if err != nil || id != "10" {
		t.Fatalf("create = %q, %v; want 10", id, err)
	}
	if got := fq.Customer("10"); got["GivenName"] != "Ann" || got["DisplayName"] != "Ann" {
		t.Errorf("customer 10 = %v, want GivenName and DisplayName Ann", got)
	}
	// The fake refuses an update that is not sparse or not at the current SyncToken, 7.
	id, err = c.Upsert(context.Background(), "9", Record{Patient: record.Patient{Email: "bea@example.org"}})
	if err != nil || id != "9" {
		t.Fatalf("update = %q, %v; want 9", id, err)
	}
	// Sparse: the email is set and the name the company holds stays.
	got := fq.Customer("9")
	if email, _ := got["PrimaryEmailAddr"].(map[string]any); email["Address"] != "bea@example.org" || got["DisplayName"] != "Bea" || got["SyncToken"] != "8" {
		t.Errorf("customer 9 after the update = %v, want the email added to Bea at SyncToken 8", got)
	}
	if created, updated := fq.Counts(); created != 1 || updated != 1 {
		t.Errorf("created %d, updated %d; want 1 and 1", created, updated)
	}
	// A create without a name is refused by the codec before any request, as a rejection.
	before := srv.seen("/")
	if _, err := c.Upsert(context.Background(), "", Record{Patient: record.Patient{Email: "x@example.org"}}); !IsRejected(err) || !strings.Contains(err.Error(), "GivenName") {
		t.Errorf("create without a name = %v, want a rejection naming the name elements", err)
	}
	if n := srv.seen("/") - before; n != 0 {
		t.Errorf("a create the codec refused sent %d requests", n)
	}
}

// named is a patient with one given name, which QuickBooks also shows as the display name.
func named(given string) record.Patient { return record.Patient{Name: record.Name{Given: given}} }

func TestQuickBooksRejectionNamesCodeNotValue(t *testing.T) {
	srv := newFake(t, newFakeQuickBooks(customer("1", "0", "Duplicate Name", "2026-01-01T00:00:00Z")))
	c := mustNew(t, SystemQuickBooks, srv.URL, quickBooksCreds, testOptions(srv.Server))
	written, err := UpsertAll(context.Background(), c, []string{"", ""}, []Record{
		{ID: "a", Patient: record.Patient{Name: record.Name{Given: "Duplicate", Display: "Duplicate Name"}}},
		{ID: "b", Patient: named("Fine")},
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
	if _, err := c.Upsert(context.Background(), "", Record{IdempotencyKey: "k-1", Patient: named("Ann")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Upsert(context.Background(), "9", Record{IdempotencyKey: "k-2", Patient: named("Bea")}); err != nil {
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
