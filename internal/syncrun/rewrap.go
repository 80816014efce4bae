package syncrun

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/mappingstore"
	"github.com/tenantwire/tenantwire/internal/store"
)

// rewrapBatch is how many rows one store round trip moves.
const rewrapBatch = 500

// KeyVersions is what the mapping store holds, by key version, measured against the keyring.
type KeyVersions struct {
	// Rows by key version.
	Rows map[int32]int64
	// Unknown counts rows under versions the keyring does not hold: unreadable for good.
	Unknown int64
	// State counts sealed runtime state (cursors, saved refresh tokens, webhook deliveries) by
	// key version.
	State map[int32]int64
	// UnknownState counts sealed state under versions the keyring does not hold. A cursor then
	// starts over and a saved token falls back to the mounted one; a delivery is lost.
	UnknownState int64
	// Rejected counts the records kept for replay (rejected.go) by key version.
	Rejected map[int32]int64
	// UnknownRejected counts rejected records under versions the keyring does not hold: they
	// cannot be replayed.
	UnknownRejected int64
}

// OnlyActive says every row, sealed state value and rejected record is under the active version, which is
// what the runtime's readiness promises the operator before it may trim older versions.
func (kv KeyVersions) OnlyActive(active int32) bool {
	for _, counts := range []map[int32]int64{kv.Rows, kv.State, kv.Rejected} {
		for v, n := range counts {
			if v != active && n > 0 {
				return false
			}
		}
	}
	return true
}

// MeasureKeyVersions counts rows, sealed state and rejected records by version and publishes the figures as metrics.
func MeasureKeyVersions(ctx context.Context, s store.Store, c mappingseal.Codec, m *Metrics) (KeyVersions, error) {
	counts, err := s.CountByVersion(ctx)
	if err != nil {
		return KeyVersions{}, fmt.Errorf("counting mapping rows by key version: %w", err)
	}
	kv := KeyVersions{Rows: counts}
	m.MappingRecords.Reset()
	for v, n := range counts {
		m.MappingRecords.WithLabelValues(strconv.Itoa(int(v))).Set(float64(n))
		if c.Keyring.Get(v) == nil {
			kv.Unknown += n
		}
	}
	m.UnknownVersionRecords.Set(float64(kv.Unknown))
	if err := measureState(ctx, s, c, &kv); err != nil {
		return kv, fmt.Errorf("counting sealed state by key version: %w", err)
	}
	publishState(kv, m)
	if err := measureRejected(ctx, s, c, &kv, m); err != nil {
		return kv, err
	}
	return kv, nil
}

// RewrapRetained moves every row of a retained, non-active version onto the active version,
// oldest version first (it is the next to be trimmed), then every sealed state value and every
// rejected record kept for replay. Rows and
// state under versions the keyring no longer holds cannot be moved; they are counted, not skipped
// silently.
func RewrapRetained(ctx context.Context, s store.Store, c mappingseal.Codec, m *Metrics) (KeyVersions, error) {
	kv, err := MeasureKeyVersions(ctx, s, c, m)
	if err != nil {
		return kv, err
	}
	versions := make([]int32, 0, len(kv.Rows))
	for v := range kv.Rows {
		if v != c.Keyring.Active && c.Keyring.Get(v) != nil {
			versions = append(versions, v)
		}
	}
	slices.Sort(versions)
	for _, v := range versions {
		n, err := mappingstore.Rewrap(ctx, s, c, v, rewrapBatch)
		m.Rewrapped.Add(float64(n))
		if err != nil {
			return kv, err
		}
	}
	staleState := false
	for v, n := range kv.State {
		staleState = staleState || (n > 0 && v != c.Keyring.Active && c.Keyring.Get(v) != nil)
	}
	if staleState {
		n, err := rewrapState(ctx, s, c)
		m.Rewrapped.Add(float64(n))
		if err != nil {
			return kv, err
		}
	}
	stale := staleRejectedVersions(kv, c)
	for _, v := range stale {
		n, err := rewrapRejected(ctx, s, c, v)
		m.Rewrapped.Add(float64(n))
		if err != nil {
			return kv, err
		}
	}
	if len(versions) == 0 && !staleState && len(stale) == 0 {
		return kv, nil
	}
	return MeasureKeyVersions(ctx, s, c, m)
}
