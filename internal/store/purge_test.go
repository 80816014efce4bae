package store

import (
	"context"
	"testing"
	"time"
)

// TestPurgePostgresDeletesOnlyTheIntegrationsStore fills two Integrations' stores (each its own
// database, as the CRD gives every Integration) and purges one: all of its rows go, the counts say
// how many of each, and the other store keeps every row.
func TestPurgePostgresDeletesOnlyTheIntegrationsStore(t *testing.T) {
	ctx := context.Background()
	fill := func(dsn string, rows int) {
		s := openStore(t, dsn)
		for i := range rows {
			if err := s.Upsert(ctx, tok(i), val(1, "sealed")); err != nil {
				t.Fatal(err)
			}
		}
		for _, name := range []string{"cycle/source", SavedTokenPrefix + "in/quickbooks", SavedTokenPrefix + "in/cerbo"} {
			if err := s.SetCursor(ctx, name, "sealed"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.AppendDelivery(ctx, "webhook", "sealed"); err != nil {
			t.Fatal(err)
		}
		// A record the destination refused, kept for a replay: the source ID, sealed.
		now := time.Now()
		if err := s.PutRejected(ctx, Rejected{Integration: "in", Token: tok(100), Value: val(1, "sealed"),
			Code: "6240", Field: "DisplayName", FirstSeen: now, LastSeen: now, Attempts: 1}); err != nil {
			t.Fatal(err)
		}
	}
	purged, kept := backends["postgres"](t), backends["postgres"](t)
	fill(purged, 5)
	fill(kept, 3)

	counts, err := PurgePostgres(ctx, purged)
	if err != nil {
		t.Fatal(err)
	}
	if want := (PurgeCounts{MappingRows: 5, SavedTokens: 2, Cursors: 1, Deliveries: 1, RejectedRecords: 1}); counts != want {
		t.Fatalf("purge counted %+v, want %+v", counts, want)
	}
	remaining := func(dsn string) (rows int64, cursors, deliveries int) {
		t.Helper()
		s := openStore(t, dsn)
		byVersion, err := s.CountByVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range byVersion {
			rows += n
		}
		cs, err := s.Cursors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := s.Deliveries(ctx, "webhook", 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		rejected, err := s.CountRejected(ctx, "in")
		if err != nil {
			t.Fatal(err)
		}
		return rows + rejected, len(cs), len(ds)
	}
	if r, c, d := remaining(purged); r+int64(c)+int64(d) != 0 {
		t.Errorf("purged store still holds %d mapping and rejected rows, %d cursors, %d deliveries", r, c, d)
	}
	if r, c, d := remaining(kept); r != 4 || c != 3 || d != 1 {
		t.Errorf("the other Integration's store holds %d mapping and rejected rows, %d cursors, %d deliveries; want 4, 3, 1", r, c, d)
	}

	again, err := PurgePostgres(ctx, purged)
	if err != nil || again != (PurgeCounts{}) {
		t.Errorf("a repeated purge = %+v, %v; want zero counts", again, err)
	}
}

// TestPurgePostgresOfAStoreNeverOpened purges a database the runtime never migrated: nothing to
// delete, and no error (the Integration may never have run).
func TestPurgePostgresOfAStoreNeverOpened(t *testing.T) {
	counts, err := PurgePostgres(context.Background(), backends["postgres"](t))
	if err != nil || counts != (PurgeCounts{}) {
		t.Fatalf("purge of an empty database = %+v, %v; want zero counts", counts, err)
	}
}
