// Package mappingstore is the patient-ID mapping of one tenant: internal/mappingseal's sealed records
// kept in an internal/store. A patient's record is stored once per system it is known in, each row
// under the lookup token of that system's ID, so a sync can find the patient from any side.
//
// It keeps the invariant that internal/mappingseal documents: a row is wholly of one key version.
// Put writes under the active version and removes the patient's rows of older versions; Lookup
// tries every retained version, active first; Rewrap moves the rows of an old version onto the
// active one, after which the operator may trim that version without losing a record.
package mappingstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/store"
)

// ErrOrphan means an authentic row's token was computed from none of the IDs its record holds; the
// rewrap cannot recompute its token. It indicates a bug or a record edited outside Put.
var ErrOrphan = errors.New("mappingstore: row's token matches none of its record's IDs")

// Lookup finds the record of the patient with id in system. It returns store.ErrNotFound when no
// retained key version has a row for it.
func Lookup(ctx context.Context, s store.Store, c mappingseal.Codec, system, id string) (mappingseal.Record, error) {
	for _, t := range c.Tokens(system, id) {
		v, err := s.Get(ctx, t.Bytes())
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return mappingseal.Record{}, err
		}
		return c.Open(t, mappingseal.Sealed{Version: v.Version, Data: v.Data})
	}
	return mappingseal.Record{}, store.ErrNotFound
}

// Put writes a patient's record under the active token of each of its IDs and removes the rows
// of those IDs under older versions, so the older row cannot shadow or overwrite this one.
func Put(ctx context.Context, s store.Store, c mappingseal.Codec, r mappingseal.Record) error {
	return PutAll(ctx, s, c, []mappingseal.Record{r})
}

// PutAll does what Put does for every record, in one store transaction: a batch's mapping rows
// are committed together or not at all.
func PutAll(ctx context.Context, s store.Store, c mappingseal.Codec, records []mappingseal.Record) error {
	var upserts []store.Row
	var deletes [][]byte
	for _, r := range records {
		for system, id := range r.IDs {
			tokens := c.Tokens(system, id)
			if len(tokens) == 0 {
				return mappingseal.ErrUnknownVersion
			}
			active := tokens[0]
			sealed, err := c.Seal(active, r)
			if err != nil {
				return err
			}
			upserts = append(upserts, store.Row{Token: active.Bytes(), Value: store.Value{Version: sealed.Version, Data: sealed.Data}})
			for _, old := range tokens[1:] {
				deletes = append(deletes, old.Bytes())
			}
		}
	}
	return s.WriteRows(ctx, upserts, deletes)
}

// Rewrap moves every row of key version from onto the active version, batch rows at a time: each
// is opened, its token recomputed under the active HMAC key and its record sealed again under
// the active encryption key. If the patient already has a row under the active token (a Put
// since the rotation), that row is newer and is kept; the old row is dropped. Rewrap returns how
// many rows it moved or dropped. It stops at the first row that does not open rather than skip it,
// since a skipped row would be lost when its version is trimmed.
func Rewrap(ctx context.Context, s store.Store, c mappingseal.Codec, from int32, batch int) (int, error) {
	if c.Keyring == nil || c.Keyring.ActiveVersion() == nil {
		return 0, mappingseal.ErrUnknownVersion
	}
	if from == c.Keyring.Active {
		return 0, nil
	}
	done := 0
	for {
		rows, err := s.ListByVersion(ctx, from, batch)
		if err != nil {
			return done, err
		}
		if len(rows) == 0 {
			return done, nil
		}
		for _, row := range rows {
			if err := rewrapRow(ctx, s, c, row); err != nil {
				return done, fmt.Errorf("mappingstore: rewrap of a version %d row: %w", from, err)
			}
			done++
		}
	}
}

func rewrapRow(ctx context.Context, s store.Store, c mappingseal.Codec, row store.Row) error {
	old := mappingseal.Token{Version: row.Version}
	if len(row.Token) != mappingseal.TokenSize {
		return mappingseal.ErrMalformed
	}
	copy(old.Sum[:], row.Token)
	r, err := c.Open(old, mappingseal.Sealed{Version: row.Version, Data: row.Data})
	if err != nil {
		return err
	}
	for system, id := range r.IDs {
		if t, err := c.TokenAt(row.Version, system, id); err != nil || t != old {
			continue
		}
		active, err := c.Token(system, id)
		if err != nil {
			return err
		}
		if _, err := s.Get(ctx, active.Bytes()); err == nil {
			return s.Delete(ctx, row.Token)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		sealed, err := c.Seal(active, r)
		if err != nil {
			return err
		}
		return s.Replace(ctx, row.Token, active.Bytes(), store.Value{Version: sealed.Version, Data: sealed.Data})
	}
	return ErrOrphan
}
