package syncrun

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/mappingstore"
	"github.com/tenantwire/tenantwire/internal/record"
	"github.com/tenantwire/tenantwire/internal/store"
)

// memoryBatchDestination is a memoryDestination that takes max records per UpsertBatch.
type memoryBatchDestination struct {
	*memoryDestination
	max     int
	batches []int
	// onBatch runs before each batch is written (tests cancel contexts from it).
	onBatch func(n int)
}

func (d *memoryBatchDestination) MaxBatch() int { return d.max }

func (d *memoryBatchDestination) UpsertBatch(ctx context.Context, ids []string, records []connector.Record) ([]connector.BatchResult, error) {
	d.batches = append(d.batches, len(records))
	if d.onBatch != nil {
		d.onBatch(len(d.batches))
	}
	out := make([]connector.BatchResult, len(records))
	for i, r := range records {
		id, err := d.Upsert(ctx, ids[i], r)
		if err != nil && !connector.IsRejected(err) {
			return nil, err
		}
		out[i] = connector.BatchResult{ID: id, Err: err}
	}
	return out, nil
}

func TestBatchCycleWritesEachPageInBatchesOfMaxBatch(t *testing.T) {
	st := openSQLite(t)
	src := &pagedSource{records: patients(12), pageSize: 5, failAt: -1}
	dst := &memoryBatchDestination{memoryDestination: newMemoryDestination(), max: 3}
	dst.reject["p7"] = true
	s := newSyncer(t, src, dst, st, newKeyring(t, 1, 1))
	res, err := s.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Pages of 5, batches of 3: what a page leaves is carried into the next page's first batch.
	if fmt.Sprint(dst.batches) != "[3 3 3 3]" || res.Read != 12 || res.Created != 11 || res.Rejected != 1 || res.Pages != 3 {
		t.Fatalf("batches %v, %+v; want four full batches over the three pages, 11 created and p7 rejected", dst.batches, res)
	}
	if cursor, err := s.readCursor(context.Background()); err != nil || cursor != "12" {
		t.Fatalf("cursor = %q, %v; want 12", cursor, err)
	}
	rec, err := mappingstore.Lookup(context.Background(), st, s.Codec, "cerbo", "p11")
	if err != nil || rec.IDs["quickbooks"] == "" {
		t.Fatalf("p11's mapping = %v, %v", rec, err)
	}
	// Everything again: found through the mapping and updated, nothing created.
	if err := s.commitCursor(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	res, err = s.Cycle(context.Background())
	if err != nil || res.Updated != 11 || res.Created != 0 || dst.creates != 11 {
		t.Fatalf("replay: %+v, %v, %d creates; want 11 updates and no new create", res, err, dst.creates)
	}
}

// TestBatchCycleNeverPutsOnePatientTwiceInABatch: the second record of a patient must find the
// first one's mapping row, or the destination gets two creates.
func TestBatchCycleNeverPutsOnePatientTwiceInABatch(t *testing.T) {
	records := patients(3)
	records = append(records[:2], records[0], records[2])
	dst := &memoryBatchDestination{memoryDestination: newMemoryDestination(), max: 10}
	s := newSyncer(t, &pagedSource{records: records, pageSize: 10, failAt: -1}, dst, openSQLite(t), newKeyring(t, 1, 1))
	res, err := s.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if dst.creates != 3 || res.Created != 3 || res.Updated != 1 || fmt.Sprint(dst.batches) != "[2 2]" {
		t.Fatalf("%+v, %d creates, batches %v; want p0 created once and updated in a second batch", res, dst.creates, dst.batches)
	}
}

func TestBatchStoppedByShutdownFinishesTheBatchAndResumesWithoutDuplicates(t *testing.T) {
	st := openSQLite(t)
	src := &pagedSource{records: patients(12), pageSize: 6, failAt: -1}
	dst := &memoryBatchDestination{memoryDestination: newMemoryDestination(), max: 4}
	s := newSyncer(t, src, dst, st, newKeyring(t, 1, 1))
	ctx, cancel := context.WithCancel(context.Background())
	// SIGTERM arrives as the second batch is written: the first page's last two records and the
	// second page's first two.
	dst.onBatch = func(n int) {
		if n == 2 {
			cancel()
		}
	}
	if _, err := s.Cycle(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted cycle returned %v, want context.Canceled", err)
	}
	if dst.creates != 8 {
		t.Fatalf("the batch in flight at shutdown must finish: creates %d, want 8", dst.creates)
	}
	// The first page's last records went out with the second page's batch, which did not
	// complete the second page: the cursor stays on the first page, at its first record the
	// first batch did not take, so the resume composes the second batch as it was.
	saved, err := s.readCursor(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cursor, err := parseResumeCursor(saved); err != nil || cursor != (resumeCursor{Page: "", At: "p4"}) {
		t.Fatalf("cursor after shutdown = %+v, %v; want the first page at p4", cursor, err)
	}
	dst.onBatch = nil
	res, err := s.Cycle(context.Background())
	if err != nil || dst.creates != 12 || res.Updated != 4 || res.Created != 4 || fmt.Sprint(dst.batches) != "[4 4 4 4]" {
		t.Fatalf("resume: %+v, %v with %d creates, batches %v; want the second batch again (4 found through the mapping), then the last 4 created", res, err, dst.creates, dst.batches)
	}
}

// batchVendor is a vendor fake behind a real connector, as the runtime meets it.
type batchVendor struct {
	name  string
	serve func() (http.Handler, func() fakesystem.Stats, func() int)
	creds func(tokenURL string) connector.Credentials
}

var batchVendors = []batchVendor{
	{name: connector.SystemQuickBooks,
		serve: func() (http.Handler, func() fakesystem.Stats, func() int) {
			q := fakesystem.NewQuickBooks("1", &fakesystem.Tokens{ClientID: "cid", ClientSecret: "cs", RefreshToken: "rt"})
			return q, q.Stats, func() int { return len(q.Customers()) }
		},
		creds: func(tokenURL string) connector.Credentials {
			return connector.Credentials{"client_id": []byte("cid"), "client_secret": []byte("cs"), "refresh_token": []byte("rt"),
				"realm_id": []byte("1"), "token_url": []byte(tokenURL)}
		}},
	{name: connector.SystemZoho,
		serve: func() (http.Handler, func() fakesystem.Stats, func() int) {
			z := fakesystem.NewZoho(&fakesystem.Tokens{ClientID: "cid", ClientSecret: "cs", RefreshToken: "rt"})
			return z, z.Stats, func() int { return len(z.Contacts()) }
		},
		creds: func(tokenURL string) connector.Credentials {
			return connector.Credentials{"client_id": []byte("cid"), "client_secret": []byte("cs"), "refresh_token": []byte("rt"), "token_url": []byte(tokenURL)}
		}},
}

// servedVendor is a vendor fake served over TLS; connect gives a pod's connector to it.
type servedVendor struct {
	vendor batchVendor
	srv    *httptest.Server
	stats  func() fakesystem.Stats
	held   func() int
}

// serveVendor serves a vendor fake, through wrap when it is not nil (tests act on requests there).
func serveVendor(t *testing.T, vendor batchVendor, wrap func(http.Handler) http.Handler) servedVendor {
	t.Helper()
	handler, stats, held := vendor.serve()
	if wrap != nil {
		handler = wrap(handler)
	}
	srv := httptest.NewTLSServer(handler)
	t.Cleanup(srv.Close)
	return servedVendor{vendor: vendor, srv: srv, stats: stats, held: held}
}

func (v servedVendor) connect(t *testing.T) connector.Connector {
	t.Helper()
	u, _ := url.Parse(v.srv.URL)
	roots := x509.NewCertPool()
	roots.AddCert(v.srv.Certificate())
	dst, err := connector.New(v.vendor.name, v.srv.URL, v.vendor.creds(v.srv.URL+fakesystem.TokenPath),
		// The client's pace is the fakes' (published) limit in a window short enough for the test;
		// a test's few batches stay inside the fakes' own window.
		connector.Options{AllowedHosts: []string{u.Host}, RootCAs: roots, MaxAttempts: 1,
			RateLimit:      contract.RateLimit{Requests: 100, Per: 100 * time.Millisecond},
			BatchRateLimit: contract.RateLimit{Requests: 100, Per: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// patientsWithEmail are n patients with distinct emails, which Zoho CRM deduplicates on.
func patientsWithEmail(n int) []connector.Record {
	records := patients(n)
	for i := range records {
		records[i].Patient.Email = fmt.Sprintf("p%d@example.org", i)
	}
	return records
}

// newVendorSyncer is a pod syncing names and emails to a vendor fake.
func newVendorSyncer(t *testing.T, src connector.Source, system string, dst connector.Destination, st store.Store, k *keyring.Keyring) *Syncer {
	s := newSyncer(t, src, dst, st, k)
	s.DestSystem = system
	s.Fields = record.NewSet(record.FieldName, record.FieldEmail)
	return s
}

// TestBatchKilledBetweenWriteAndMappingCreatesNoDuplicates kills the pod (the store fails) after
// a batch was written, before all of its mapping rows, and resumes with the same page. The
// vendor's own deduplication must answer with the records it holds: QuickBooks through the
// batch's requestid, Zoho CRM through the duplicate check on Email. With 70 records QuickBooks
// takes three batches, and a kill in the second one's rows comes after the third was sent (the
// rows are written behind the next request).
func TestBatchKilledBetweenWriteAndMappingCreatesNoDuplicates(t *testing.T) {
	const n = 70
	for _, vendor := range batchVendors {
		for _, mapped := range []int{0, 5, 35} {
			t.Run(fmt.Sprintf("%s/%d rows written", vendor.name, mapped), func(t *testing.T) {
				served := serveVendor(t, vendor, nil)
				dst, stats, held := served.connect(t), served.stats, served.held
				records := patientsWithEmail(n)
				crashing := &crashingStore{Store: openSQLite(t), failAfter: mapped}
				s := newVendorSyncer(t, &pagedSource{records: records, pageSize: n, failAt: -1}, vendor.name, dst, crashing, newKeyring(t, 1, 1))
				if _, err := s.Cycle(context.Background()); err == nil {
					t.Fatal("the cycle survived the killed store")
				}
				if got := held(); got == 0 {
					t.Fatalf("the destination holds no record: the kill came before the write")
				}
				crashing.failAfter = -1
				res, err := s.Cycle(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if got, st := held(), stats(); got != n || st.Duplicates != 0 || res.Rejected != 0 {
					t.Fatalf("after the resume the destination holds %d records for %d patients, stats %+v, cycle %+v; want no duplicate", got, n, st, res)
				}
				for _, r := range records {
					if rec, err := mappingstore.Lookup(context.Background(), crashing, s.Codec, "cerbo", r.ID); err != nil || rec.IDs[vendor.name] == "" {
						t.Errorf("%s is not mapped after the resume: %v, %v", r.ID, rec, err)
					}
				}
			})
		}
	}
}

// gatedStore holds the first WriteRows until open is closed, or gives up after a while and says so.
type gatedStore struct {
	store.Store
	open     chan struct{}
	waited   bool
	gaveUp   bool
	attempts int
}

func (g *gatedStore) WriteRows(ctx context.Context, upserts []store.Row, deletes [][]byte) error {
	g.attempts++
	if g.attempts == 1 {
		g.waited = true
		select {
		case <-g.open:
		case <-time.After(5 * time.Second):
			g.gaveUp = true
		}
	}
	return g.Store.WriteRows(ctx, upserts, deletes)
}

// TestBatchRowsAreWrittenBehindTheNextRequest: the second batch's request goes out while the first
// batch's mapping rows are still being written, and every row is there when the cycle returns.
func TestBatchRowsAreWrittenBehindTheNextRequest(t *testing.T) {
	gated := &gatedStore{Store: openSQLite(t), open: make(chan struct{})}
	dst := &memoryBatchDestination{memoryDestination: newMemoryDestination(), max: 3}
	dst.onBatch = func(n int) {
		if n == 2 {
			close(gated.open)
		}
	}
	s := newSyncer(t, &pagedSource{records: patients(6), pageSize: 6, failAt: -1}, dst, gated, newKeyring(t, 1, 1))
	res, err := s.Cycle(context.Background())
	if err != nil || res.Created != 6 {
		t.Fatalf("%+v, %v; want 6 created", res, err)
	}
	if !gated.waited || gated.gaveUp {
		t.Fatalf("the second batch's request did not go out while the first batch's rows were written (held: %v, gave up: %v)", gated.waited, gated.gaveUp)
	}
	for _, r := range patients(6) {
		if rec, err := mappingstore.Lookup(context.Background(), gated, s.Codec, "cerbo", r.ID); err != nil || rec.IDs["quickbooks"] == "" {
			t.Errorf("%s is not mapped when the cycle returned: %v, %v", r.ID, rec, err)
		}
	}
}

// TestBatchStoreFailureAnywhereReplaysTheSameBatches fails the store at each of a cycle's writes
// in turn (a batch's rows or a page's cursor) while pages and QuickBooks batches do not line up,
// so a batch begins with records carried from an earlier page. The cycle after the outage must
// compose every batch that was written and not mapped as it was composed the first time, or
// QuickBooks takes it, under another requestid, for new customers with the same names.
func TestBatchStoreFailureAnywhereReplaysTheSameBatches(t *testing.T) {
	const n = 70 // QuickBooks batches of 30
	for _, pageSize := range []int{20, 7} {
		for failAt := 1; failAt <= 14; failAt++ {
			t.Run(fmt.Sprintf("pages of %d, write %d fails", pageSize, failAt), func(t *testing.T) {
				served := serveVendor(t, batchVendors[0], nil)
				records := patientsWithEmail(n)
				failing := &failingStore{Store: openSQLite(t), failAt: failAt}
				s := newVendorSyncer(t, &pagedSource{records: records, pageSize: pageSize, failAt: -1}, batchVendors[0].name, served.connect(t), failing, newKeyring(t, 1, 1))
				_, failed := s.Cycle(context.Background())
				failing.up()
				res, err := s.Cycle(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if held, st := served.held(), served.stats(); held != n || st.Duplicates != 0 || res.Rejected != 0 {
					t.Fatalf("after the outage (%v) QuickBooks holds %d customers for %d patients, stats %+v, cycle %+v; want the unmapped batches replayed as they were sent", failed, held, n, st, res)
				}
				for _, r := range records {
					if rec, err := mappingstore.Lookup(context.Background(), failing, s.Codec, "cerbo", r.ID); err != nil || rec.IDs[batchVendors[0].name] == "" {
						t.Errorf("%s is not mapped after the outage: %v, %v", r.ID, rec, err)
					}
				}
			})
		}
	}
}
