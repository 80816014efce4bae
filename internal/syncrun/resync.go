package syncrun

import (
	"context"
	"errors"
	"fmt"

	"github.com/tenantwire/tenantwire/internal/store"
)

// A resync is requested declaratively (the Integration's spec.resync.request, rendered into
// sync.yaml): the runtime keeps, next to its cursor, the request it last started and the request it
// last completed a full pass for. A new request resets the cursor to the beginning once; the pass
// may span several cycles (a failed cycle resumes from its last committed page, as always), and
// the first cycle that completes marks the request done. Every record read again is found through
// the mapping and updated, not created; records the destination rejected are tried again.

func (s *Syncer) resyncKey(state string) string { return s.cursorName() + "/resync-" + state }

func (s *Syncer) readMark(ctx context.Context, key string) (string, error) {
	v, err := s.Store.Cursor(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return v, err
}

// beginResync starts the requested resync if it has not started yet: the cursor goes back to the
// beginning.
func (s *Syncer) beginResync(ctx context.Context) error {
	if s.Resync == "" {
		return nil
	}
	started, err := s.readMark(ctx, s.resyncKey("started"))
	if err != nil {
		return s.fail(reasonStore, fmt.Errorf("reading the resync state: %w", err))
	}
	if started == s.Resync {
		return nil
	}
	if err := s.commitCursor(ctx, ""); err != nil {
		return err
	}
	if err := s.Store.SetCursor(ctx, s.resyncKey("started"), s.Resync); err != nil {
		return s.fail(reasonStore, fmt.Errorf("recording the resync: %w", err))
	}
	s.Log.Info("resync requested: reading the source again from the beginning", "request", s.Resync)
	return nil
}

// finishResync runs after a completed cycle: the started request is then done. It returns the
// last request done.
func (s *Syncer) finishResync(ctx context.Context) (string, error) {
	done, err := s.readMark(ctx, s.resyncKey("done"))
	if err != nil || s.Resync == "" || done == s.Resync {
		return done, err
	}
	started, err := s.readMark(ctx, s.resyncKey("started"))
	if err != nil || started != s.Resync {
		return done, err
	}
	if err := s.Store.SetCursor(ctx, s.resyncKey("done"), s.Resync); err != nil {
		return done, err
	}
	s.Log.Info("resync done", "request", s.Resync)
	return s.Resync, nil
}
