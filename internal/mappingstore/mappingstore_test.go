package mappingstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/store"
)

const (
	tenant    = "clinic-a"
	algorithm = "AES-256-GCM"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

func newStore(t *testing.T) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "mapping.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func rotate(t *testing.T, k *keyring.Keyring, rng *rand.Rand, at time.Time, retain int) *keyring.Keyring {
	t.Helper()
	m, err := keyring.NewMaterial(rand.NewChaCha8(seedBytes(rng)))
	if err != nil {
		t.Fatal(err)
	}
	return keyring.Rotate(k, algorithm, m, at, retain)
}

func seedBytes(rng *rand.Rand) (s [32]byte) {
	for i := range s {
		s[i] = byte(rng.Uint32())
	}
	return s
}

func put(t *testing.T, s store.Store, c mappingseal.Codec, r mappingseal.Record) {
	t.Helper()
	if err := Put(context.Background(), s, c, r); err != nil {
		t.Fatal(err)
	}
}

// missing lists the (system, id) pairs of want that do not look up to their record.
func missing(t *testing.T, s store.Store, c mappingseal.Codec, want map[int]mappingseal.Record) []string {
	t.Helper()
	var out []string
	for _, r := range want {
		for system, id := range r.IDs {
			got, err := Lookup(context.Background(), s, c, system, id)
			if err != nil || !maps.Equal(got.IDs, r.IDs) {
				out = append(out, fmt.Sprintf("%s/%s: %v", system, id, err))
			}
		}
	}
	return out
}

func rows(t *testing.T, s store.Store) (total int64, counts map[int32]int64) {
	t.Helper()
	counts, err := s.CountByVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range counts {
		total += n
	}
	return total, counts
}

func idCount(want map[int]mappingseal.Record) (n int64) {
	for _, r := range want {
		n += int64(len(r.IDs))
	}
	return n
}

// TestRotationAndRewrapNeverLoseARecord is a property test over random histories: patients are
// written, the keyring rotates (keeping at least the previous version, as a KeyPolicy with
// retention >= 1 does), patients are updated while the rewrap has not yet run, the rewrap moves
// every old row in random batch sizes, and the keyring is trimmed, possibly to the active version
// alone. After every step every patient must be found from each of their IDs; after the rewrap
// every row is of the active version. At the end, with the keyring destroyed or replaced, nothing
// is found and no row opens (crypto-shredding).
func TestRotationAndRewrapNeverLoseARecord(t *testing.T) {
	for seed := range uint64(30) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(seed, 0x7e4a))
			s := newStore(t)
			k := rotate(t, nil, rng, t0, 1)
			codec := mappingseal.Codec{Tenant: tenant, Keyring: k}

			want := map[int]mappingseal.Record{}
			for i := range 3 + rng.IntN(25) {
				r := mappingseal.Record{IDs: map[string]string{"cerbo": fmt.Sprintf("C-%d", i), "quickbooks": fmt.Sprintf("QB-%d", i)}}
				if rng.IntN(2) == 0 {
					r.IDs["zoho"] = fmt.Sprintf("Z-%d", i)
				}
				want[i] = r
				put(t, s, codec, r)
			}

			for step := range 1 + rng.IntN(5) {
				retain := 1 + rng.IntN(3)
				k = rotate(t, k, rng, t0.Add(time.Duration(step+1)*time.Hour), retain)
				codec = mappingseal.Codec{Tenant: tenant, Keyring: k}
				if m := missing(t, s, codec, want); len(m) > 0 {
					t.Fatalf("step %d, after rotation, before rewrap: lost %v", step, m)
				}

				// A sync keeps writing before the rewrap runs: some patients move from zoho to
				// gohighlevel.
				for i, r := range want {
					if rng.IntN(4) == 0 {
						r.IDs["gohighlevel"] = fmt.Sprintf("G-%d", i)
						delete(r.IDs, "zoho")
						// The zoho row of the old record is now stale; drop it as a sync would.
						if zt := codec.Tokens("zoho", fmt.Sprintf("Z-%d", i)); len(zt) > 0 {
							for _, z := range zt {
								if err := s.Delete(ctx, z.Bytes()); err != nil {
									t.Fatal(err)
								}
							}
						}
						put(t, s, codec, r)
					}
				}

				_, counts := rows(t, s)
				for v := range counts {
					if _, err := Rewrap(ctx, s, codec, v, 1+rng.IntN(7)); err != nil {
						t.Fatalf("step %d: rewrap of version %d: %v", step, v, err)
					}
				}
				total, counts := rows(t, s)
				if len(counts) != 1 || counts[k.Active] != total {
					t.Fatalf("step %d: rows by version after rewrap = %v, want all at active %d", step, counts, k.Active)
				}
				if total != idCount(want) {
					t.Fatalf("step %d: %d rows, want one per ID: %d", step, total, idCount(want))
				}

				k = keyring.Trim(k, rng.IntN(retain+1))
				codec = mappingseal.Codec{Tenant: tenant, Keyring: k}
				if m := missing(t, s, codec, want); len(m) > 0 {
					t.Fatalf("step %d, after rewrap and trim to %v: lost %v", step, k.VersionNumbers(), m)
				}
			}

			// Crypto-shredding: without the keyring, or with another one of the same versions,
			// nothing is found and no stored row opens.
			var other *keyring.Keyring
			for range k.Active {
				other = rotate(t, other, rng, t0, int(k.Active))
			}
			other = &keyring.Keyring{Algorithm: algorithm, Active: k.Active, Versions: other.Versions[len(other.Versions)-len(k.Versions):]}
			if !slices.Equal(other.VersionNumbers(), k.VersionNumbers()) {
				t.Fatalf("other keyring has versions %v, want %v", other.VersionNumbers(), k.VersionNumbers())
			}
			for name, c := range map[string]mappingseal.Codec{
				"destroyed": {Tenant: tenant},
				"empty":     {Tenant: tenant, Keyring: &keyring.Keyring{}},
				"other":     {Tenant: tenant, Keyring: other},
			} {
				if m := missing(t, s, c, want); len(m) != int(idCount(want)) {
					t.Errorf("keyring %s: %d of %d IDs still found", name, int(idCount(want))-len(m), idCount(want))
				}
				stored, err := s.ListByVersion(ctx, k.Active, 1000)
				if err != nil {
					t.Fatal(err)
				}
				for _, row := range stored {
					var tok mappingseal.Token
					tok.Version = row.Version
					copy(tok.Sum[:], row.Token)
					if _, err := c.Open(tok, mappingseal.Sealed{Version: row.Version, Data: row.Data}); err == nil {
						t.Errorf("keyring %s: a stored row opened", name)
					}
				}
			}
		})
	}
}

// TestTrimWithoutRewrapLosesRecords shows the property test can fail: trimming a version that
// still has rows makes them unreadable, which is why the rewrap must finish first.
func TestTrimWithoutRewrapLosesRecords(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := newStore(t)
	k := rotate(t, nil, rng, t0, 1)
	want := map[int]mappingseal.Record{0: {IDs: map[string]string{"cerbo": "C-0", "zoho": "Z-0"}}}
	put(t, s, mappingseal.Codec{Tenant: tenant, Keyring: k}, want[0])
	k = rotate(t, k, rng, t0.Add(time.Hour), 0)
	if m := missing(t, s, mappingseal.Codec{Tenant: tenant, Keyring: k}, want); len(m) != 2 {
		t.Errorf("after trimming an unrewrapped version, %d of 2 IDs are missing; want both", len(m))
	}
}

func TestRewrap(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	k1 := rotate(t, nil, rng, t0, 2)
	k2 := rotate(t, k1, rng, t0.Add(time.Hour), 2)
	c1 := mappingseal.Codec{Tenant: tenant, Keyring: k1}
	c2 := mappingseal.Codec{Tenant: tenant, Keyring: k2}

	t.Run("a newer row under the active token wins", func(t *testing.T) {
		s := newStore(t)
		put(t, s, c1, mappingseal.Record{IDs: map[string]string{"cerbo": "C-1", "zoho": "OLD"}})
		// Written under v2 without removing the v1 rows, as a Put racing the rewrap might leave it.
		newer := mappingseal.Record{IDs: map[string]string{"cerbo": "C-1", "zoho": "NEW"}}
		tok, _ := c2.Token("cerbo", "C-1")
		sealed, _ := c2.Seal(tok, newer)
		if err := s.Upsert(ctx, tok.Bytes(), store.Value{Version: sealed.Version, Data: sealed.Data}); err != nil {
			t.Fatal(err)
		}
		if _, err := Rewrap(ctx, s, c2, 1, 10); err != nil {
			t.Fatal(err)
		}
		got, err := Lookup(ctx, s, c2, "cerbo", "C-1")
		if err != nil || got.IDs["zoho"] != "NEW" {
			t.Errorf("Lookup after rewrap = %v, %v; want the newer record", got, err)
		}
	})
	t.Run("a row that does not open stops the rewrap", func(t *testing.T) {
		s := newStore(t)
		put(t, s, c1, mappingseal.Record{IDs: map[string]string{"cerbo": "C-1"}})
		stored, _ := s.ListByVersion(ctx, 1, 10)
		stored[0].Data[len(stored[0].Data)-1] ^= 1
		if err := s.Upsert(ctx, stored[0].Token, stored[0].Value); err != nil {
			t.Fatal(err)
		}
		n, err := Rewrap(ctx, s, c2, 1, 10)
		if !errors.Is(err, mappingseal.ErrTampered) || n != 0 {
			t.Errorf("Rewrap = %d, %v; want 0, ErrTampered", n, err)
		}
		if _, counts := rows(t, s); counts[1] != 1 {
			t.Errorf("the failing row was not kept: %v", counts)
		}
	})
	t.Run("a row whose token matches none of its IDs", func(t *testing.T) {
		s := newStore(t)
		tok, _ := c1.Token("cerbo", "C-1")
		sealed, _ := c1.Seal(tok, mappingseal.Record{IDs: map[string]string{"cerbo": "C-2"}})
		if err := s.Upsert(ctx, tok.Bytes(), store.Value{Version: sealed.Version, Data: sealed.Data}); err != nil {
			t.Fatal(err)
		}
		if _, err := Rewrap(ctx, s, c2, 1, 10); !errors.Is(err, ErrOrphan) {
			t.Errorf("Rewrap error = %v, want ErrOrphan", err)
		}
	})
	t.Run("the active version is a no-op", func(t *testing.T) {
		s := newStore(t)
		put(t, s, c2, mappingseal.Record{IDs: map[string]string{"cerbo": "C-1"}})
		if n, err := Rewrap(ctx, s, c2, 2, 10); n != 0 || err != nil {
			t.Errorf("Rewrap of the active version = %d, %v", n, err)
		}
	})
}
