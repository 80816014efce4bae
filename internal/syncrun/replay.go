package syncrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/cyclereport"
	"github.com/tenantwire/tenantwire/internal/store"
)

// A replay of rejected records is requested declaratively (the Integration's spec.replay.request,
// rendered into sync.yaml), like a resync: each new request runs once. The runtime reads every
// record kept in the rejected table (rejected.go) from the source again by its ID, writes it as a
// cycle would (found through the mapping, so never created twice), and removes its row once the
// destination accepted it; a record rejected again keeps its row, one attempt more, and a record
// the source no longer holds is removed. The request and its counts are kept sealed next to the
// cursor, so a restarted pod neither runs it again nor forgets what it did. A replay that fails
// part way (the source or the store unavailable) is not marked done: the next cycle runs it again,
// and the records it already replayed are no longer in the table.

// replayPageSize is how many rejected rows one store round trip reads.
const replayPageSize = 100

func (s *Syncer) replayKey() string { return s.cursorName() + "/replay-done" }

// lastReplay returns the last replay the runtime completed, nil for none.
func (s *Syncer) lastReplay(ctx context.Context) (*cyclereport.Replay, error) {
	sealed, err := s.Store.Cursor(ctx, s.replayKey())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, s.fail(reasonStore, fmt.Errorf("reading the replay state: %w", err))
	}
	plain, err := s.Codec.OpenState(s.replayKey(), sealed)
	if err != nil {
		// Under a trimmed key version: the last request is forgotten, and running it again only
		// retries what is still rejected.
		return nil, nil
	}
	var done cyclereport.Replay
	if err := json.Unmarshal([]byte(plain), &done); err != nil {
		return nil, nil
	}
	return &done, nil
}

// replay runs the requested replay if it has not run yet, and returns the last replay done.
func (s *Syncer) replay(ctx context.Context) (*cyclereport.Replay, error) {
	done, err := s.lastReplay(ctx)
	if err != nil || s.Replay == "" || (done != nil && done.Request == s.Replay) {
		return done, err
	}
	run := cyclereport.Replay{Request: s.Replay}
	if src, ok := s.Source.(connector.RecordSource); ok {
		if err := s.replayRejected(ctx, src, &run); err != nil {
			return done, err
		}
	} else {
		run.Unsupported = true
		s.Log.Error(errors.New("replay not supported"), "the source cannot read a record by its ID, so rejected records cannot be replayed; request a resync instead",
			"system", s.SourceSystem, "request", s.Replay)
	}
	plain, err := json.Marshal(run)
	if err != nil {
		return done, err
	}
	sealed, err := s.Codec.SealState(s.replayKey(), string(plain))
	if err != nil {
		return done, s.fail(reasonMapping, fmt.Errorf("sealing the replay state: %w", err))
	}
	if err := s.Store.SetCursor(ctx, s.replayKey(), sealed); err != nil {
		return done, s.fail(reasonStore, fmt.Errorf("recording the replay: %w", err))
	}
	s.Log.Info("replay of rejected records done", "request", run.Request, "replayed", run.Replayed, "rejected", run.Rejected, "gone", run.Gone)
	return &run, nil
}

// replayRejected reads each rejected row of the Integration once, in token order, and writes its
// record again.
func (s *Syncer) replayRejected(ctx context.Context, src connector.RecordSource, run *cyclereport.Replay) error {
	var after []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows, err := s.Store.ListRejected(ctx, s.Integration, after, replayPageSize)
		if err != nil {
			return s.fail(reasonStore, fmt.Errorf("listing rejected records: %w", err))
		}
		for _, row := range rows {
			after = row.Token
			if err := s.replayOne(ctx, src, row, run); err != nil {
				return err
			}
		}
		if len(rows) < replayPageSize {
			return nil
		}
	}
}

func (s *Syncer) replayOne(ctx context.Context, src connector.RecordSource, row store.Rejected, run *cyclereport.Replay) error {
	system, id, _, err := openRejected(s.Codec, row)
	if err != nil || system != s.SourceSystem {
		// Under a key version no longer held, or not this source's: counted by the rewrap, kept.
		run.Unreadable++
		return nil
	}
	rec, err := src.Get(ctx, id)
	switch {
	case errors.Is(err, connector.ErrRecordGone):
		run.Gone++
		return s.dropRejected(ctx, row)
	case err != nil:
		return s.fail(failureReason(reasonSource, err), fmt.Errorf("reading a rejected record from %s: %w", s.SourceSystem, err))
	}
	result, err := s.syncRecord(ctx, rec)
	if err != nil {
		return err
	}
	s.Metrics.Records.WithLabelValues(result).Inc()
	if result == resultRejected {
		run.Rejected++
		return nil
	}
	run.Replayed++
	return s.dropRejected(ctx, row)
}

func (s *Syncer) dropRejected(ctx context.Context, row store.Rejected) error {
	if err := s.Store.DeleteRejected(ctx, row.Integration, row.Token); err != nil {
		return s.fail(reasonStore, fmt.Errorf("removing a replayed record: %w", err))
	}
	return nil
}
