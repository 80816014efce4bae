package connector

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/connector/quickbooks"
	"github.com/tenantwire/tenantwire/internal/record"
)

// batchRequests are the POSTs a fake saw on the batch endpoint.
func (f *fake) batchRequests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*http.Request
	for _, r := range f.requests {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/batch") {
			out = append(out, r)
		}
	}
	return out
}

func TestQuickBooksBatchWritesCreatesAndUpdatesInOneRequest(t *testing.T) {
	fq := newFakeQuickBooks(customer("7", "3", "Bea", "2026-01-01T00:00:00Z"), customer("8", "0", "Cy", "2026-01-01T00:00:00Z"))
	srv := newFake(t, fq)
	c, ok := mustNew(t, SystemQuickBooks, srv.URL, quickBooksCreds, testOptions(srv.Server)).(BatchDestination)
	if !ok || c.MaxBatch() != quickbooks.MaxBatchItems {
		t.Fatalf("the quickbooks connector is not a BatchDestination of %d records", quickbooks.MaxBatchItems)
	}
	ids := []string{"", "7", "", "8", "99", ""}
	records := []Record{
		{IdempotencyKey: "k-ann", Patient: named("Ann")},
		{IdempotencyKey: "k-bea", Patient: record.Patient{Email: "bea@example.org"}},
		{IdempotencyKey: "k-noname", Patient: record.Patient{Email: "noname@example.org"}}, // refused by the codec
		{IdempotencyKey: "k-cy", Patient: record.Patient{Name: record.Name{Given: "Ann"}}}, // Intuit: duplicate DisplayName
		{IdempotencyKey: "k-gone", Patient: named("Gone")},                                 // no Customer 99
		{IdempotencyKey: "k-dan", Patient: named("Dan")},
	}
	results, err := c.UpsertBatch(context.Background(), ids, records)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ id, err string }{
		{"9", ""},
		{"7", ""},
		{"", "create customer: record rejected (NOT_ENCODABLE"},
		{"", "update customer: record rejected (ValidationFault 6240 on field DisplayName)"},
		{"", "update customer: record rejected (610 on field Id)"},
		{"10", ""},
	}
	for i, w := range want {
		got := results[i]
		if got.ID != w.id || (w.err == "") != (got.Err == nil) || (got.Err != nil && (!strings.Contains(got.Err.Error(), w.err) || !IsRejected(got.Err))) {
			t.Errorf("result %d = %q, %v; want %q, %q", i, got.ID, got.Err, w.id, w.err)
		}
		if got.Err != nil && (strings.Contains(got.Err.Error(), "Ann") || strings.Contains(got.Err.Error(), "noname@")) {
			t.Errorf("result %d error %q carries a value", i, got.Err)
		}
	}
	// The update is sparse at the SyncToken read by the one query: the name Bea holds stays.
	if got := fq.Customer("7"); got["DisplayName"] != "Bea" || got["SyncToken"] != "4" {
		t.Errorf("customer 7 = %v, want Bea at SyncToken 4", got)
	}
	// One query for both SyncTokens, one batch for the four items that could be sent.
	var queries []string
	for _, r := range srv.requests {
		if strings.HasSuffix(r.URL.Path, "/query") {
			queries = append(queries, r.URL.Query().Get("query"))
		}
		if strings.Contains(r.URL.Path, "/customer") {
			t.Errorf("a batch sent %s %s: one request per record", r.Method, r.URL.Path)
		}
	}
	// (The fake's first access token has expired: the first call is sent twice.)
	if queries = slices.Compact(queries); len(queries) != 1 || queries[0] != "select * from Customer where Id in ('7', '8', '99') MAXRESULTS 3" {
		t.Errorf("queries = %q, want the three SyncTokens read in one", queries)
	}
	batches := srv.batchRequests()
	if len(batches) != 1 || batches[0].URL.Query().Get("minorversion") != quickbooks.MinorVersion || len(batches[0].URL.Query().Get("requestid")) != 32 {
		t.Fatalf("batch requests = %d (%v), want one at minorversion %s with a requestid", len(batches), batches, quickbooks.MinorVersion)
	}
}

// TestQuickBooksBatchSentAgainCreatesNothing is the runtime's retry after a crash between the
// batch write and its mapping rows: the same creates are sent again and must not create any
// Customer a second time.
func TestQuickBooksBatchSentAgainCreatesNothing(t *testing.T) {
	fq := newFakeQuickBooks()
	srv := newFake(t, fq)
	opts := testOptions(srv.Server)
	opts.BatchRateLimit = contract.RateLimit{Requests: 100, Per: time.Second}
	c := mustNew(t, SystemQuickBooks, srv.URL, quickBooksCreds, opts).(BatchDestination)
	ids := make([]string, 3)
	records := make([]Record, 3)
	for i := range records {
		records[i] = Record{IdempotencyKey: fmt.Sprint("key-", i), Patient: named(fmt.Sprint("P", i))}
	}
	first, err := c.UpsertBatch(context.Background(), ids, records)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.UpsertBatch(context.Background(), ids, records)
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		if first[i].Err != nil || again[i].Err != nil || again[i].ID != first[i].ID {
			t.Errorf("record %d: first %q %v, again %q %v; want the same Customer", i, first[i].ID, first[i].Err, again[i].ID, again[i].Err)
		}
	}
	if s := fq.Stats(); s.Created != 3 || s.Duplicates != 0 || s.Replayed != 1 || len(fq.Customers()) != 3 {
		t.Errorf("stats = %+v, %d customers; want 3 created once, the batch replayed", s, len(fq.Customers()))
	}
	// The crash fell between two of the batch's mapping rows: the same batch comes again with
	// the first record known. It is the same request, and creates nothing.
	partly, err := c.UpsertBatch(context.Background(), []string{first[0].ID, "", ""}, records)
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		if partly[i].Err != nil || partly[i].ID != first[i].ID {
			t.Errorf("record %d after a partial mapping: %q %v; want %q", i, partly[i].ID, partly[i].Err, first[i].ID)
		}
	}
	if s := fq.Stats(); s.Created != 3 || s.Duplicates != 0 || len(fq.Customers()) != 3 {
		t.Errorf("stats after a partial mapping = %+v, %d customers; want the 3 customers only", s, len(fq.Customers()))
	}
	// Other creates are another request.
	records[0].IdempotencyKey = "key-other"
	records[0].Patient = named("Other")
	if _, err := c.UpsertBatch(context.Background(), ids[:1], records[:1]); err != nil {
		t.Fatal(err)
	}
	if b := srv.batchRequests(); b[len(b)-1].URL.Query().Get("requestid") == b[0].URL.Query().Get("requestid") {
		t.Errorf("a batch of other creates carries the same requestid")
	}
}

func TestQuickBooksBatchRefusesMoreThanIntuitTakes(t *testing.T) {
	srv := newFake(t, newFakeQuickBooks())
	c := mustNew(t, SystemQuickBooks, srv.URL, quickBooksCreds, testOptions(srv.Server)).(BatchDestination)
	n := quickbooks.MaxBatchItems + 1
	if _, err := c.UpsertBatch(context.Background(), make([]string, n), make([]Record, n)); err == nil || !strings.Contains(err.Error(), "a batch takes 1 to 30 records") {
		t.Fatalf("err = %v", err)
	}
}

// TestQuickBooksBatchRefusedAsAWholeIsWrittenOneByOne: a fault for the whole batch names no item,
// so the records are written one by one and each gets its own result.
func TestQuickBooksBatchRefusedAsAWholeIsWrittenOneByOne(t *testing.T) {
	fq := newFakeQuickBooks()
	srv := newFake(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/batch") {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"Fault":{"type":"ValidationFault","Error":[{"code":"2020","element":"BatchItemRequest"}]}}`))
			return
		}
		fq.ServeHTTP(w, r)
	}))
	c := mustNew(t, SystemQuickBooks, srv.URL, quickBooksCreds, testOptions(srv.Server)).(BatchDestination)
	results, err := c.UpsertBatch(context.Background(), []string{"", ""},
		[]Record{{IdempotencyKey: "k-1", Patient: named("Ann")}, {IdempotencyKey: "k-2", Patient: record.Patient{Email: "x@example.org"}}})
	if err != nil {
		t.Fatal(err)
	}
	if results[0].ID != "1" || results[0].Err != nil || !IsRejected(results[1].Err) {
		t.Errorf("results = %+v, want the first written and the second (no name) rejected", results)
	}
}
