package syncrun

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/store"
)

// A record the destination rejects for good is kept in the store's rejected table so that it can
// be replayed (replay.go) once the cause is fixed: under the lookup token of its source ID (the
// mapping's HMAC token), with the ID itself sealed like a mapping record, the vendor's code and
// field, and when and how often. Nothing in the table is readable without the keyring, and it is
// under the same contract as mapping rows: counted by key version, rewrapped onto the active
// version before the pod reports ready, and unreadable once the keyring is destroyed.

// rejected counts a record the destination refused for good and keeps it for replay.
func (s *Syncer) rejected(ctx context.Context, patient string, err error) (string, error) {
	code, field := connector.RejectionOf(err)
	s.Metrics.Rejections.WithLabelValues(code, field).Inc()
	// Logged without the record: its ID would be a patient ID in clear. The error names the
	// vendor's code and field, never a value.
	s.Log.Info("destination rejected a record; kept for replay", "destination", s.DestSystem, "error", err.Error())
	if err := s.keepRejected(ctx, patient, code, field); err != nil {
		return "", err
	}
	return resultRejected, nil
}

// keepRejected writes the rejected row of a patient under the active key version.
func (s *Syncer) keepRejected(ctx context.Context, patient, code, field string) error {
	token, sealed, err := s.sealRejected(patient)
	if err != nil {
		return s.fail(reasonMapping, fmt.Errorf("sealing a rejected record: %w", err))
	}
	row := store.Rejected{Integration: s.Integration, Token: token.Bytes(), Value: store.Value{Version: sealed.Version, Data: sealed.Data},
		Code: code, Field: field, LastSeen: s.Now()}
	if err := s.Store.PutRejected(ctx, row); err != nil {
		return s.fail(reasonStore, fmt.Errorf("keeping a rejected record: %w", err))
	}
	return nil
}

// sealRejected is the active token of a patient's source ID and the ID sealed for that token.
func (s *Syncer) sealRejected(patient string) (mappingseal.Token, mappingseal.Sealed, error) {
	token, err := s.Codec.Token(s.SourceSystem, patient)
	if err != nil {
		return mappingseal.Token{}, mappingseal.Sealed{}, err
	}
	sealed, err := s.Codec.Seal(token, mappingseal.Record{IDs: map[string]string{s.SourceSystem: patient}})
	return token, sealed, err
}

// openRejected returns the source system and ID a rejected row holds, checked against its token.
func openRejected(c mappingseal.Codec, row store.Rejected) (string, string, mappingseal.Token, error) {
	token := mappingseal.Token{Version: row.Version}
	if len(row.Token) != mappingseal.TokenSize {
		return "", "", token, mappingseal.ErrMalformed
	}
	copy(token.Sum[:], row.Token)
	r, err := c.Open(token, mappingseal.Sealed{Version: row.Version, Data: row.Data})
	if err != nil {
		return "", "", token, err
	}
	for system, id := range r.IDs {
		if t, err := c.TokenAt(row.Version, system, id); err == nil && t == token {
			return system, id, token, nil
		}
	}
	return "", "", token, mappingseal.ErrMalformed
}

// rewrapRejected moves every rejected row of a retained, non-active version onto the active
// version and returns how many it moved or dropped (a row the record was rejected again under
// since the rotation is newer). A row that does not open stops the rewrap, as a mapping row's does.
func rewrapRejected(ctx context.Context, s store.Store, c mappingseal.Codec, from int32) (int, error) {
	done := 0
	for {
		rows, err := s.ListRejectedByVersion(ctx, from, rewrapBatch)
		if err != nil || len(rows) == 0 {
			return done, err
		}
		for _, row := range rows {
			system, id, _, err := openRejected(c, row)
			if err != nil {
				return done, fmt.Errorf("rewrap of a version %d rejected record: %w", from, err)
			}
			active, err := c.Token(system, id)
			if err != nil {
				return done, err
			}
			sealed, err := c.Seal(active, mappingseal.Record{IDs: map[string]string{system: id}})
			if err != nil {
				return done, err
			}
			if err := s.MoveRejected(ctx, row.Integration, row.Token, active.Bytes(), store.Value{Version: sealed.Version, Data: sealed.Data}); err != nil {
				return done, err
			}
			done++
		}
	}
}

// measureRejected counts rejected rows by key version into kv and the metrics.
func measureRejected(ctx context.Context, s store.Store, c mappingseal.Codec, kv *KeyVersions, m *Metrics) error {
	counts, err := s.CountRejectedByVersion(ctx)
	if err != nil {
		return fmt.Errorf("counting rejected records by key version: %w", err)
	}
	kv.Rejected, kv.UnknownRejected = counts, 0
	m.RejectedRecords.Reset()
	for v, n := range counts {
		m.RejectedRecords.WithLabelValues(strconv.Itoa(int(v))).Set(float64(n))
		if c.Keyring.Get(v) == nil {
			kv.UnknownRejected += n
		}
	}
	return nil
}

// staleRejectedVersions are the retained, non-active versions rejected rows are under, oldest first.
func staleRejectedVersions(kv KeyVersions, c mappingseal.Codec) []int32 {
	var out []int32
	for v, n := range kv.Rejected {
		if n > 0 && v != c.Keyring.Active && c.Keyring.Get(v) != nil {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}
