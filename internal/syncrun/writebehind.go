package syncrun

import (
	"sync"
)

// writeBehind runs a cycle's store writes (a batch's mapping rows, a page's cursor) in the
// background, one after another in the order they were queued, so that the next batch's lookups
// and request go out while the previous batch's rows are committed. The order is what keeps a
// kill safe: a cursor is committed only after the rows of every batch before it, so a cycle
// stopped anywhere resumes from a page whose written records are either mapped or written again
// under the same idempotency keys, as after a kill between a batch's write and its rows.
//
// At most one batch's rows are pending (rows waits for the previous batch's), so a kill leaves at
// most two batches written and not mapped, each retried as a single one would be. A batch that
// holds a patient whose rows are pending waits for them (before), since its lookup must see them.
// After the first failed write nothing more is written and every later call returns that error.
type writeBehind struct {
	// last is closed once the last job queued has finished; lastRows once the last rows job has.
	last, lastRows chan struct{}
	// pending are the patients of the last rows job, until it is known to have finished.
	pending map[string]bool

	mu  sync.Mutex
	err error
}

// queue runs job after every job queued before it, unless one of them failed.
func (w *writeBehind) queue(job func() error) chan struct{} {
	prev, done := w.last, make(chan struct{})
	go func() {
		defer close(done)
		if prev != nil {
			<-prev
		}
		if w.failed() != nil {
			return
		}
		if err := job(); err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
		}
	}()
	w.last = done
	return done
}

func (w *writeBehind) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// rows queues the mapping rows of a batch of patients, once the previous batch's are written.
func (w *writeBehind) rows(patients []string, job func() error) error {
	if w.lastRows != nil {
		<-w.lastRows
	}
	if err := w.failed(); err != nil {
		return err
	}
	w.pending = make(map[string]bool, len(patients))
	for _, p := range patients {
		w.pending[p] = true
	}
	w.lastRows = w.queue(job)
	return nil
}

// then queues job (a cursor commit) after everything queued so far.
func (w *writeBehind) then(job func() error) error {
	if err := w.failed(); err != nil {
		return err
	}
	w.queue(job)
	return nil
}

// before waits, if the pending rows are of any of patients, until every queued job has finished.
func (w *writeBehind) before(patients []string) error {
	for _, p := range patients {
		if w.pending[p] {
			return w.wait()
		}
	}
	return w.failed()
}

// wait waits for every queued job and returns the first error of any.
func (w *writeBehind) wait() error {
	if w.last != nil {
		<-w.last
	}
	w.pending = nil
	return w.failed()
}
