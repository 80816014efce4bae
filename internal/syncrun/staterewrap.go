package syncrun

import (
	"context"
	"fmt"
	"strconv"

	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/store"
)

// Sealed runtime state is everything the store keeps sealed besides mapping rows: sync cursors,
// saved refresh tokens (both in the cursors table) and webhook deliveries waiting for the sync.
// It is under the same contract as mapping rows: counted by key version, moved onto the active
// version before the pod reports ready, so trimming an older version drops none of it.

// deliveryStateName binds a sealed webhook delivery to its queue (the Integration).
func deliveryStateName(queue string) string { return "webhook/" + queue + "/delivery" }

// forEachSealedState calls fn with every sealed state value of the store, with the name it is
// bound to and a function that writes a resealed value back in its place.
func forEachSealedState(ctx context.Context, s store.Store, fn func(name, sealed string, write func(string) error) error) error {
	cursors, err := s.Cursors(ctx)
	if err != nil {
		return fmt.Errorf("listing cursors: %w", err)
	}
	for name, sealed := range cursors {
		write := func(v string) error { return s.SetCursor(ctx, name, v) }
		if err := fn(name, sealed, write); err != nil {
			return err
		}
	}
	var after int64
	for {
		page, err := s.Deliveries(ctx, "", after, rewrapBatch)
		if err != nil {
			return fmt.Errorf("listing webhook deliveries: %w", err)
		}
		for _, d := range page {
			write := func(v string) error { return s.ResealDelivery(ctx, d.Seq, v) }
			if err := fn(deliveryStateName(d.Queue), d.Sealed, write); err != nil {
				return err
			}
			after = d.Seq
		}
		if len(page) < rewrapBatch {
			return nil
		}
	}
}

// measureState counts sealed state by key version into kv. A value that does not carry a version
// (written before cursors were sealed) counts under version 0, which no keyring holds.
func measureState(ctx context.Context, s store.Store, c mappingseal.Codec, kv *KeyVersions) error {
	kv.State = map[int32]int64{}
	kv.UnknownState = 0
	return forEachSealedState(ctx, s, func(_, sealed string, _ func(string) error) error {
		v, err := mappingseal.StateVersion(sealed)
		if err != nil {
			v = 0
		}
		kv.State[v]++
		if c.Keyring.Get(v) == nil {
			kv.UnknownState++
		}
		return nil
	})
}

// rewrapState reseals every state value of a retained, non-active version under the active one
// and returns how many it moved. Values under versions the keyring no longer holds stay as they
// are and are counted by measureState.
func rewrapState(ctx context.Context, s store.Store, c mappingseal.Codec) (int, error) {
	moved := 0
	err := forEachSealedState(ctx, s, func(name, sealed string, write func(string) error) error {
		v, err := mappingseal.StateVersion(sealed)
		if err != nil || v == c.Keyring.Active || c.Keyring.Get(v) == nil {
			return nil
		}
		// A value that does not open is neither fixed nor dropped: the rewrap fails, so the pod never
		// promises that it holds nothing under older versions.
		resealed, err := c.ResealState(name, sealed)
		if err != nil {
			return fmt.Errorf("resealing sealed state under key version %d: %w", v, err)
		}
		if err := write(resealed); err != nil {
			return fmt.Errorf("writing resealed state: %w", err)
		}
		moved++
		return nil
	})
	return moved, err
}

// publishState sets the sealed-state gauges.
func publishState(kv KeyVersions, m *Metrics) {
	m.SealedState.Reset()
	for v, n := range kv.State {
		m.SealedState.WithLabelValues(strconv.Itoa(int(v))).Set(float64(n))
	}
	m.UnknownVersionState.Set(float64(kv.UnknownState))
}
