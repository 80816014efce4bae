package syncrun

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/mappingstore"
	"github.com/tenantwire/tenantwire/internal/store"
)

// The steps of one record's sync that the per-record path (syncRecord) and the batch path
// (syncBatch) share: find what the mapping knows of the patient, and record the destination's
// ID once the write succeeded.

// patientOf is the source ID the mapping keys a record by.
func patientOf(rec connector.Record) string {
	if rec.PatientID != "" {
		return rec.PatientID
	}
	return rec.ID
}

// lookup returns what the mapping knows of a patient: no IDs when it knows nothing yet.
func (s *Syncer) lookup(ctx context.Context, patient string) (mappingseal.Record, error) {
	known, err := mappingstore.Lookup(ctx, s.Store, s.Codec, s.SourceSystem, patient)
	switch {
	case err == nil:
		return known, nil
	case errors.Is(err, store.ErrNotFound):
		return mappingseal.Record{}, nil
	case errors.Is(err, mappingseal.ErrTampered), errors.Is(err, mappingseal.ErrMalformed), errors.Is(err, mappingseal.ErrUnknownVersion):
		return mappingseal.Record{}, s.fail(reasonMapping, fmt.Errorf("reading the mapping: %w", err))
	default:
		return mappingseal.Record{}, s.fail(reasonStore, fmt.Errorf("reading the mapping: %w", err))
	}
}

// idempotencyKey is the key a create of this patient carries, the same on every attempt.
func (s *Syncer) idempotencyKey(patient string) (string, error) {
	key, err := s.Codec.IdempotencyKey(s.Integration, s.SourceSystem, patient)
	if err != nil {
		return "", s.fail(reasonMapping, fmt.Errorf("deriving the idempotency key: %w", err))
	}
	return key, nil
}

// written records a write the destination accepted: the mapping row when it changed, and whether
// the record was created or updated.
func (s *Syncer) written(ctx context.Context, known mappingseal.Record, patient, destID, newID string) (string, error) {
	result, row := s.mapped(known, patient, destID, newID)
	if row != nil {
		if err := s.putRows(ctx, []mappingseal.Record{*row}); err != nil {
			return "", err
		}
	}
	return result, nil
}

// mapped says what a write the destination accepted did (created or updated) and the mapping
// record to store for it, nil when the mapping already holds it.
func (s *Syncer) mapped(known mappingseal.Record, patient, destID, newID string) (string, *mappingseal.Record) {
	if newID == destID && known.IDs[s.SourceSystem] == patient {
		return resultUpdated, nil
	}
	ids := maps.Clone(known.IDs)
	if ids == nil {
		ids = map[string]string{}
	}
	ids[s.SourceSystem] = patient
	ids[s.DestSystem] = newID
	if destID == "" {
		return resultCreated, &mappingseal.Record{IDs: ids}
	}
	return resultUpdated, &mappingseal.Record{IDs: ids}
}

// putRows stores mapping records in one transaction.
func (s *Syncer) putRows(ctx context.Context, rows []mappingseal.Record) error {
	if err := mappingstore.PutAll(ctx, s.Store, s.Codec, rows); err != nil {
		return s.fail(reasonStore, fmt.Errorf("recording the mapping: %w", err))
	}
	return nil
}

// tally counts one record's result in the cycle's result and the metrics.
func (s *Syncer) tally(res *CycleResult, result string) {
	s.Metrics.Records.WithLabelValues(result).Inc()
	switch result {
	case resultCreated:
		res.Created++
	case resultUpdated:
		res.Updated++
	case resultRejected:
		res.Rejected++
	}
}
