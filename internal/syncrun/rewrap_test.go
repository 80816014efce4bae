package syncrun

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/mappingstore"
)

func TestRewrapRetainedMovesEveryRowOntoTheActiveVersion(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	k1 := newKeyring(t, 1, 2)
	s := newSyncer(t, &pagedSource{records: patients(1200), pageSize: 500, failAt: -1}, newMemoryDestination(), st, k1)
	if _, err := s.Cycle(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := keyring.NewMaterial(nil)
	if err != nil {
		t.Fatal(err)
	}
	k2 := keyring.Rotate(k1, k1.Algorithm, m, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), 2)
	c2 := mappingseal.Codec{Tenant: "acme", Keyring: k2}

	metrics := NewMetrics()
	kv, err := RewrapRetained(ctx, st, c2, metrics)
	if err != nil {
		t.Fatal(err)
	}
	// 1200 patients, each with a row per system.
	if !kv.OnlyActive(k2.Active) || kv.Rows[k2.Active] != 2400 || kv.Unknown != 0 {
		t.Fatalf("after rewrap %+v; want all 2400 rows under version %d", kv, k2.Active)
	}
	// The rows and the cycle's cursor.
	if got := testutil.ToFloat64(metrics.Rewrapped); got != 2401 {
		t.Fatalf("rewrapped metric %v, want 2401", got)
	}
	// Trimming version 1 now loses nothing.
	c3 := mappingseal.Codec{Tenant: "acme", Keyring: keyring.Trim(k2, 0)}
	if _, err := mappingstore.Lookup(ctx, st, c3, "quickbooks", "dest-1000"); err != nil {
		t.Fatalf("lookup after trim: %v", err)
	}
}

func TestRowsUnderATrimmedVersionAreReportedNotSkipped(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	k1 := newKeyring(t, 1, 1)
	s := newSyncer(t, &pagedSource{records: patients(3), pageSize: 10, failAt: -1}, newMemoryDestination(), st, k1)
	if _, err := s.Cycle(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := keyring.NewMaterial(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Rotated with retain 0: version 1 is gone before any rewrap could run.
	k2 := keyring.Rotate(k1, k1.Algorithm, m, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), 0)
	metrics := NewMetrics()
	kv, err := RewrapRetained(ctx, st, mappingseal.Codec{Tenant: "acme", Keyring: k2}, metrics)
	if err != nil {
		t.Fatal(err)
	}
	if kv.Unknown != 6 || kv.OnlyActive(k2.Active) {
		t.Fatalf("got %+v; want 6 rows reported under an unknown version", kv)
	}
	if got := testutil.ToFloat64(metrics.UnknownVersionRecords); got != 6 {
		t.Fatalf("unknown-version metric %v, want 6", got)
	}
}
