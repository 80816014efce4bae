package syncrun

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/mappingseal"
)

// A cursor and a saved refresh token sealed under version 1 survive a rotation, the rewrap and
// the trim of version 1: the rewrap moves them with the mapping rows and counts them.
func TestRewrapMovesCursorsAndSavedTokensBeforeATrim(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	k1 := newKeyring(t, 1, 1)
	c1 := mappingseal.Codec{Tenant: "acme", Keyring: k1}
	s1 := newSyncer(t, &pagedSource{failAt: -1, pageSize: 1}, newMemoryDestination(), st, k1)
	if err := s1.commitCursor(ctx, "page-7"); err != nil {
		t.Fatal(err)
	}
	if err := (sealedRefreshTokens{store: st, codec: c1, integration: s1.Integration}).Save("quickbooks", "rt-mounted", "rt-newest"); err != nil {
		t.Fatal(err)
	}

	m, err := keyring.NewMaterial(nil)
	if err != nil {
		t.Fatal(err)
	}
	k2 := keyring.Rotate(k1, k1.Algorithm, m, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), 1)
	metrics := NewMetrics()
	kv, err := RewrapRetained(ctx, st, mappingseal.Codec{Tenant: "acme", Keyring: k2}, metrics)
	if err != nil {
		t.Fatal(err)
	}
	if !kv.OnlyActive(k2.Active) {
		t.Errorf("after the rewrap %+v; want everything under version %d", kv, k2.Active)
	}
	if got := testutil.ToFloat64(metrics.Rewrapped); got != 2 {
		t.Errorf("rewrapped metric %v, want 2 (the cursor and the token)", got)
	}

	trimmed := keyring.Trim(k2, 0)
	if trimmed.Get(k1.Active) != nil {
		t.Fatal("the trim kept version 1")
	}
	s2 := newSyncer(t, &pagedSource{failAt: -1, pageSize: 1}, newMemoryDestination(), st, trimmed)
	if cursor, err := s2.readCursor(ctx); err != nil || cursor != "page-7" {
		t.Errorf("cursor after the trim = %q, %v; want page-7 (an empty cursor starts the sync over)", cursor, err)
	}
	tokens := sealedRefreshTokens{store: st, codec: s2.Codec, integration: s2.Integration}
	if got, err := tokens.Load("quickbooks", "rt-mounted"); err != nil || got != "rt-newest" {
		t.Errorf("saved token after the trim = %q, %v; want rt-newest (the vendor has retired the mounted one)", got, err)
	}
}

// Sealed state the keyring can no longer open is counted, and keeps OnlyActive false.
func TestSealedStateUnderATrimmedVersionIsCounted(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	k1 := newKeyring(t, 1, 0)
	if err := newSyncer(t, &pagedSource{failAt: -1, pageSize: 1}, newMemoryDestination(), st, k1).commitCursor(ctx, "page-1"); err != nil {
		t.Fatal(err)
	}
	m, err := keyring.NewMaterial(nil)
	if err != nil {
		t.Fatal(err)
	}
	k2 := keyring.Rotate(k1, k1.Algorithm, m, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), 0)
	metrics := NewMetrics()
	kv, err := RewrapRetained(ctx, st, mappingseal.Codec{Tenant: "acme", Keyring: k2}, metrics)
	if err != nil {
		t.Fatal(err)
	}
	if kv.UnknownState != 1 || kv.OnlyActive(k2.Active) {
		t.Errorf("got %+v; want the cursor counted under an unknown version", kv)
	}
	if got := testutil.ToFloat64(metrics.UnknownVersionState); got != 1 {
		t.Errorf("unknown-version state metric %v, want 1", got)
	}
}
