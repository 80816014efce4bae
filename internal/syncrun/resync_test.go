package syncrun

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
)

// TestResyncReadsTheSourceAgainOnceAndRetriesRejected: a requested resync reads every record
// again, once, across a restart; records already written are updated, not created again, and a
// record the destination rejected before is tried again.
func TestResyncReadsTheSourceAgainOnceAndRetriesRejected(t *testing.T) {
	st := openSQLite(t)
	k := newKeyring(t, 1, 1)
	dst := newMemoryDestination()
	dst.reject["p1"] = true
	src := &pagedSource{records: patients(3), pageSize: 2, failAt: -1}
	s := newSyncer(t, src, dst, st, k)
	summary := newCycleSummary(s.Metrics)
	cycle := func(s *Syncer) CycleResult {
		t.Helper()
		runCycle(context.Background(), s, summary, nil, testr.New(t), time.Now)
		got := summary.Summary()
		if got.Cycle.Failure != "" {
			t.Fatalf("the cycle failed: %s", got.Cycle.Failure)
		}
		c := got.Cycle
		return CycleResult{Read: c.Read, Created: c.Created, Updated: c.Updated, Rejected: c.Rejected}
	}
	if res := cycle(s); res.Created != 2 || res.Rejected != 1 {
		t.Fatalf("first cycle %+v, want 2 created and 1 rejected", res)
	}
	if res := cycle(s); res.Read != 0 {
		t.Fatalf("without a resync the next cycle read %d records, want 0", res.Read)
	}

	// The vendor's refusal is fixed at the source; a resync is requested.
	delete(dst.reject, "p1")
	s.Resync = "ticket-4711"
	if res := cycle(s); res.Read != 3 || res.Updated != 2 || res.Created != 1 || res.Rejected != 0 {
		t.Errorf("resync cycle %+v, want 3 read, 2 updated, 1 created (the rejected one)", res)
	}
	if dst.creates != 3 {
		t.Errorf("the destination has had %d creates, want 3: each patient created exactly once", dst.creates)
	}
	if got := summary.Summary().ResyncObserved; got != "ticket-4711" {
		t.Errorf("resyncObserved %q, want ticket-4711", got)
	}
	if res := cycle(s); res.Read != 0 {
		t.Errorf("the same request read the source again: %+v", res)
	}

	// A restarted pod with the same request does not start over.
	restarted := newSyncer(t, src, dst, st, k)
	restarted.Resync = "ticket-4711"
	summary = newCycleSummary(restarted.Metrics)
	if res := cycle(restarted); res.Read != 0 {
		t.Errorf("after a restart the same request read the source again: %+v", res)
	}
	if got := summary.Summary().ResyncObserved; got != "ticket-4711" {
		t.Errorf("after a restart resyncObserved %q, want ticket-4711", got)
	}
}
