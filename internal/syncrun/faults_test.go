package syncrun

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/mappingstore"
	"github.com/tenantwire/tenantwire/internal/store"
	"github.com/tenantwire/tenantwire/internal/store/pgtest"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// faultPatients is how many patients a fault matrix run syncs: a first cycle maps the first
// faultMapped of them, and the fault strikes in the second cycle, which brings the others.
const (
	faultPatients = 12
	faultMapped   = 4
)

// faultSources are the source as the first cycle finds it and as the second one does; the cursor
// of the first cycle points the second at the new patients.
func faultSources() (first, second *pagedSource) {
	all := patientsWithEmail(faultPatients)
	return &pagedSource{records: all[:faultMapped], pageSize: faultMapped, failAt: -1},
		&pagedSource{records: all, pageSize: faultMapped, failAt: -1}
}

// firstCycle maps the first patients, before the fault.
func firstCycle(t *testing.T, s *Syncer, vendor servedVendor) {
	t.Helper()
	if _, err := s.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if vendor.held() != faultMapped {
		t.Fatalf("the first cycle left %d customers, want %d", vendor.held(), faultMapped)
	}
}

// faultRun is where a data-plane fault left things once the runtime recovered.
type faultRun struct {
	store    store.Store
	codec    mappingseal.Codec
	vendor   servedVendor
	recovery time.Duration
}

// TestFaultMatrixDataPlane plays the sync runtime's rows of the fault matrix (docs/operations.md,
// "Fault matrix") against the QuickBooks fake behind its real connector, and measures what each
// fault cost: mapping rows that do not open after recovery, customers created twice, and the time
// from the end of the fault to the first complete cycle.
func TestFaultMatrixDataPlane(t *testing.T) {
	cases := []struct {
		fault, outcome string
		play           func(t *testing.T) faultRun
	}{
		{fault: "PostgreSQL down mid-cycle", play: postgresDownMidCycle,
			outcome: "the cycle fails at the first mapping write and cycles fail while the store is down; once it is back the next cycle replays the page under the same requestid and the destination answers with the customers it holds"},
		{fault: "pod rolled mid-cycle", play: podRolledMidCycle,
			outcome: "the pod dies between a batch write and its mapping rows; the new pod opens the same store, replays the page from the last committed cursor, and the destination answers with the customers it holds"},
	}
	var rows []testenv.FaultRow
	for _, tc := range cases {
		t.Run(tc.fault, func(t *testing.T) {
			run := tc.play(t)
			lost := 0
			for _, r := range patientsWithEmail(faultPatients) {
				if rec, err := mappingstore.Lookup(context.Background(), run.store, run.codec, "cerbo", r.ID); err != nil || rec.IDs[run.vendor.vendor.name] == "" {
					lost++
				}
			}
			st := run.vendor.stats()
			rows = append(rows, testenv.FaultRow{Fault: tc.fault, Outcome: tc.outcome, RowsLost: lost,
				Duplicates: max(run.vendor.held()-faultPatients, 0) + st.Duplicates, Recovery: run.recovery, Test: t.Name()})
		})
	}
	testenv.CheckFaultRows(t, rows)
}

// postgresDownMidCycle stops PostgreSQL (an immediate shutdown, as a crash) while the second
// cycle's batch is on its way to the destination, so that the batch is written and its mapping
// rows are not; then starts it again.
func postgresDownMidCycle(t *testing.T) faultRun {
	if os.Getenv("STORE_SKIP_POSTGRES") == "1" {
		t.Skip("STORE_SKIP_POSTGRES=1")
	}
	ctx := context.Background()
	cluster, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatalf("PostgreSQL tests cannot run: %v", err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })
	dsn, err := cluster.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var batches atomic.Int32
	vendor := serveVendor(t, batchVendors[0], func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path != fakesystem.TokenPath && batches.Add(1) == 2 {
				if err := cluster.Halt(ctx); err != nil {
					t.Error(err)
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	before, after := faultSources()
	s := newVendorSyncer(t, before, batchVendors[0].name, vendor.connect(t), st, newKeyring(t, 1, 1))
	firstCycle(t, s, vendor)
	s.Source = after
	if _, err := s.Cycle(ctx); err == nil {
		t.Fatal("the cycle survived its store going down")
	}
	if vendor.held() != faultPatients {
		t.Fatalf("the destination holds %d customers: the store went down before the batch was written", vendor.held())
	}
	if _, err := s.Cycle(ctx); err == nil {
		t.Fatal("a cycle succeeded with the store down")
	}
	if err := cluster.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	testenv.Eventually(t, time.Minute, func() error {
		_, err := s.Cycle(ctx)
		return err
	})
	return faultRun{store: st, codec: s.Codec, vendor: vendor, recovery: time.Since(start)}
}

// podRolledMidCycle kills the pod after the second cycle's batch is written and one and a half of
// its patients are mapped (each patient has a row per system), then starts a new pod, with a new
// connector and nothing in memory, on the same store file.
func podRolledMidCycle(t *testing.T) faultRun {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mapping.db")
	vendor := serveVendor(t, batchVendors[0], nil)
	k := newKeyring(t, 1, 1)
	before, after := faultSources()
	first, err := store.Open(ctx, "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	pod1 := newVendorSyncer(t, before, batchVendors[0].name, vendor.connect(t), first, k)
	firstCycle(t, pod1, vendor)
	pod1.Source, pod1.Store = after, &crashingStore{Store: first, failAfter: 3}
	if _, err := pod1.Cycle(ctx); err == nil {
		t.Fatal("the cycle survived the pod's death")
	}
	if vendor.held() != faultPatients {
		t.Fatalf("the destination holds %d customers: the pod died before the batch was written", vendor.held())
	}
	if err := first.Close(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}

	start := time.Now()
	st := openAt(t, path)
	_, after = faultSources()
	pod2 := newVendorSyncer(t, after, batchVendors[0].name, vendor.connect(t), st, k)
	if _, err := pod2.Cycle(ctx); err != nil {
		t.Fatal(err)
	}
	return faultRun{store: st, codec: pod2.Codec, vendor: vendor, recovery: time.Since(start)}
}
