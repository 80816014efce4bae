package syncrun

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/record"
	"github.com/tenantwire/tenantwire/internal/store"
)

// recordTimeout bounds the work on one record once started. The record's write and its mapping
// row run to completion even after SIGTERM (within the pod's 30s grace period), because a write
// the destination accepted but the mapping never recorded would be created again on resume.
const recordTimeout = 20 * time.Second

// Syncer moves records from one system to another and keeps the patient-ID mapping.
type Syncer struct {
	Tenant, Integration      string
	SourceSystem, DestSystem string
	Source                   connector.Source
	Destination              connector.Destination
	// Fields are the canonical fields the practice authorized (AuthorizedFields): every record is
	// reduced to them before the destination adapter sees it. With none, Cycle refuses to run.
	Fields  record.Set
	Store   store.Store
	Codec   mappingseal.Codec
	Metrics *Metrics
	Log     logr.Logger
	Now     func() time.Time
	// Resync is the requested resync (sync.yaml resync), "" for none (resync.go).
	Resync string
	// Replay is the requested replay of rejected records (sync.yaml replay), "" for none (replay.go).
	Replay string
}

// CycleResult says what one cycle did: records read from the source, and what became of them.
type CycleResult struct {
	Read, Created, Updated, Rejected, Pages int
}

// cursorName keys the cursor by integration and source system, so several Integrations of a
// tenant can share a PostgreSQL store.
func (s *Syncer) cursorName() string { return s.Integration + "/" + s.SourceSystem }

// Cycle reads every page the source has changed since the committed cursor and writes each
// record to the destination. The cursor is committed after each page; a cycle stopped by ctx
// (SIGTERM) or by an error leaves it after the last complete page (for a batch destination, at
// the first record a batch has not taken yet, see syncBatches), and the records of the
// interrupted page are found again next time through the mapping, so nothing is written twice.
func (s *Syncer) Cycle(ctx context.Context) (res CycleResult, err error) {
	if len(s.Fields.Fields()) == 0 {
		return res, errNoFields
	}
	start := s.Now()
	saved, err := s.readCursor(ctx)
	if err != nil {
		return res, err
	}
	resume, err := parseResumeCursor(saved)
	if err != nil {
		return res, s.fail(reasonMapping, err)
	}
	cursor := resume.Page
	var carry batchCarry // what a batch destination's next batch begins with (batch.go)
	// A batch destination's mapping rows and the cursors after them are written behind the
	// requests (writebehind.go); whatever is queued is written before Cycle returns, also when
	// it stops early, and the first error of those writes is the cycle's.
	var behind writeBehind
	defer func() {
		if werr := behind.wait(); err == nil {
			err = werr
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		page, err := s.Source.Changes(ctx, cursor)
		if err != nil {
			return res, s.fail(failureReason(reasonSource, err), fmt.Errorf("listing %s changes: %w", s.SourceSystem, err))
		}
		// The first page may resume inside it, after records already written and mapped.
		page.Records, resume = resume.begin(page.Records), resumeCursor{}
		records, committed := page.Records, page.Next
		batch, batched := s.Destination.(connector.BatchDestination)
		if batched {
			// A destination that writes many records per request gets the page in batches
			// (batch.go); nothing is left for the per-record loop.
			if committed, err = s.syncBatches(ctx, batch, &behind, &carry, cursor, page, &res); err != nil {
				return res, err
			}
			records = nil
		}
		for _, rec := range records {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			res.Read++
			result, err := s.syncRecord(ctx, rec)
			if err != nil {
				return res, err
			}
			s.tally(&res, result)
		}
		if batched {
			// Committed after the rows of the batches before it, detached as they are.
			if err := behind.then(func() error {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
				defer cancel()
				return s.commitCursor(ctx, committed)
			}); err != nil {
				return res, err
			}
		} else if err := s.commitCursor(ctx, committed); err != nil {
			return res, err
		}
		cursor = page.Next
		res.Pages++
		if !page.More {
			break
		}
	}
	if err := behind.wait(); err != nil {
		return res, err
	}
	s.Metrics.LastSuccess.Set(float64(s.Now().Unix()))
	s.Metrics.CycleDuration.Observe(s.Now().Sub(start).Seconds())
	return res, nil
}

// readCursor returns the committed cursor, "" to start from the beginning. A cursor sealed under
// a key version the keyring no longer holds (a pod down across a whole retention) also starts
// over: every record is then found through the mapping and updated, not created again.
func (s *Syncer) readCursor(ctx context.Context) (string, error) {
	sealed, err := s.Store.Cursor(ctx, s.cursorName())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", nil
	case err != nil:
		return "", s.fail(reasonStore, fmt.Errorf("reading the cursor: %w", err))
	}
	cursor, err := s.Codec.OpenState(s.cursorName(), sealed)
	switch {
	case errors.Is(err, mappingseal.ErrUnknownVersion):
		s.Log.Info("the cursor is under a key version no longer held; starting from the beginning")
		return "", nil
	case err != nil:
		return "", s.fail(reasonMapping, fmt.Errorf("opening the cursor: %w", err))
	}
	return cursor, nil
}

// commitCursor seals the cursor (it may hold a record ID) and writes it.
func (s *Syncer) commitCursor(ctx context.Context, cursor string) error {
	sealed, err := s.Codec.SealState(s.cursorName(), cursor)
	if err != nil {
		return s.fail(reasonMapping, fmt.Errorf("sealing the cursor: %w", err))
	}
	if err := s.Store.SetCursor(ctx, s.cursorName(), sealed); err != nil {
		return s.fail(reasonStore, fmt.Errorf("committing the cursor: %w", err))
	}
	return nil
}

// syncRecord writes one record under its mapped destination ID, or creates it and records the
// new ID. It runs detached from ctx's cancellation (see recordTimeout).
func (s *Syncer) syncRecord(ctx context.Context, rec connector.Record) (string, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	patient := patientOf(rec)
	known, err := s.lookup(ctx, patient)
	if err != nil {
		return "", err
	}
	destID := known.IDs[s.DestSystem]
	if destID == "" {
		if rec.IdempotencyKey, err = s.idempotencyKey(patient); err != nil {
			return "", err
		}
	}
	newID, err := s.Destination.Upsert(ctx, destID, s.authorized(rec))
	if connector.IsRejected(err) {
		return s.rejected(ctx, patient, err)
	}
	if err != nil {
		return "", s.fail(failureReason(reasonDestination, err), fmt.Errorf("writing to %s: %w", s.DestSystem, err))
	}
	return s.written(ctx, known, patient, destID, newID)
}

// authorized is the record as the destination adapter may see it: its patient reduced to the
// authorized fields (record.Authorize). A Record has no other place for a source's values, so
// this is the one place the practice's authorization is applied.
func (s *Syncer) authorized(rec connector.Record) connector.Record {
	rec.Patient = record.Authorize(rec.Patient, s.Fields)
	return rec
}

// failureReason counts a refused authorization apart from other failures of a side: it needs a
// person at the practice, not a retry.
func failureReason(side string, err error) string {
	if connector.IsAuthorizationRefused(err) {
		return reasonAuthorization
	}
	return side
}

func (s *Syncer) fail(reason string, err error) error {
	s.Metrics.Failures.WithLabelValues(reason).Inc()
	return err
}
