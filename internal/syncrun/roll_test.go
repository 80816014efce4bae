package syncrun

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/store"
)

// A roll of the sync pod after a key rotation: the new pod opens the same state volume, rewraps
// it onto the new key version and syncs on. Every patient the source sends again is updated at the
// destination, none created twice. On an empty volume (ephemeral storage) the same roll creates
// every patient again: that is what the state claim prevents.
func TestMappingSurvivesARollAndAKeyRotation(t *testing.T) {
	first := patients(20)
	changed := patients(25) // the first 20 changed at the source, and 5 new patients
	for i := range changed {
		changed[i].Patient.Email = fmt.Sprintf("changed-%d@example.org", i)
	}
	// The source lists the first sync's records, then the changes after them.
	source := func() *pagedSource {
		return &pagedSource{records: append(append([]connector.Record{}, first...), changed...), pageSize: 7, failAt: -1}
	}
	roll := func(t *testing.T, sameVolume bool) *memoryDestination {
		ctx := context.Background()
		volume := t.TempDir()
		dst := newMemoryDestination()
		k1 := newKeyring(t, 1, 1)

		st := openAt(t, filepath.Join(volume, "mapping.db"))
		pod1 := newSyncer(t, &pagedSource{records: first, pageSize: 7, failAt: -1}, dst, st, k1)
		if _, err := pod1.Cycle(ctx); err != nil {
			t.Fatal(err)
		}
		_ = st.Close() // the pod is gone

		m, err := keyring.NewMaterial(nil)
		if err != nil {
			t.Fatal(err)
		}
		k2 := keyring.Rotate(k1, k1.Algorithm, m, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), 1)
		if !sameVolume {
			volume = t.TempDir()
		}
		st = openAt(t, filepath.Join(volume, "mapping.db"))
		if _, err := RewrapRetained(ctx, st, mappingseal.Codec{Tenant: "acme", Keyring: k2}, NewMetrics()); err != nil {
			t.Fatal(err)
		}
		pod2 := newSyncer(t, source(), dst, st, k2)
		if _, err := pod2.Cycle(ctx); err != nil {
			t.Fatal(err)
		}
		return dst
	}

	t.Run("the same volume", func(t *testing.T) {
		dst := roll(t, true)
		if dst.creates != 25 || dst.updates != 20 {
			t.Errorf("destination saw %d creates and %d updates; want 25 patients created once each and the 20 changes as updates", dst.creates, dst.updates)
		}
	})
	t.Run("an empty volume creates every patient again", func(t *testing.T) {
		if dst := roll(t, false); dst.creates <= 25 {
			t.Errorf("destination saw %d creates; an empty mapping should have created patients again", dst.creates)
		}
	})
}

func openAt(t *testing.T, path string) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
