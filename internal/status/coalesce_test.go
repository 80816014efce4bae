package status

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
)

var (
	t0     = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	timing = Timing{SettleDelay: 2 * time.Second, MinInterval: 10 * time.Second}
)

// statusWith summarizes a status whose Ready has the given status and reason; reconciling adds
// Reconciling True as conditions.SetSummary does for progress.
func statusWith(gen int64, ready metav1.ConditionStatus, reason string, reconciling bool) summary {
	var conds []metav1.Condition
	now := metav1.NewTime(t0)
	conditions.Set(&conds, gen, twv1.ConditionReady, ready, reason, "msg", now)
	if reconciling {
		conditions.True(&conds, gen, twv1.ConditionReconciling, reason, "msg", now)
	}
	return summarize(conds, gen, 0)
}

func TestDecide(t *testing.T) {
	none := summary{}
	progress := func(gen int64, reason string) summary {
		return statusWith(gen, metav1.ConditionFalse, reason, true)
	}
	ready := statusWith(1, metav1.ConditionTrue, twv1.ReasonReconciled, false)
	failure := statusWith(1, metav1.ConditionFalse, twv1.ReasonApplyFailed, true)
	stalled := statusWith(1, metav1.ConditionFalse, twv1.ReasonSecretStoreMissing, false)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	// step is the status of a further step of progress, told apart by its digest.
	step := func(d uint64) summary {
		s := progress(1, twv1.ReasonDeploymentProgressing)
		s.digest = d
		return s
	}

	tests := map[string]struct {
		cur, next summary
		equal     bool
		urgent    bool
		stepped   bool
		memo      memo
		now       time.Time
		want      decision
	}{
		"a step before any status is shown is deferred": {
			cur: none, next: progress(1, twv1.ReasonDeploymentProgressing),
			now: t0, want: decision{requeueAfter: 2 * time.Second, pending: pending{first: t0, since: t0}},
		},
		"deferred, settle delay not over yet": {
			cur: none, next: progress(1, twv1.ReasonDeploymentProgressing),
			memo: memo{pending: pending{first: t0, since: t0}}, now: at(500 * time.Millisecond),
			want: decision{requeueAfter: 1500 * time.Millisecond, pending: pending{first: t0, since: t0}},
		},
		"settle delay and interval over: written": {
			cur: none, next: progress(1, twv1.ReasonDeploymentProgressing),
			memo: memo{pending: pending{first: at(9 * time.Second), since: at(9 * time.Second)}, lastWrite: t0}, now: at(11 * time.Second),
			want: decision{write: true, pending: pending{first: at(9 * time.Second), since: at(9 * time.Second)}, progress: true},
		},
		"settle delay over, last write too recent: waits for the interval": {
			cur: none, next: progress(1, twv1.ReasonDeploymentProgressing),
			memo: memo{pending: pending{first: at(3 * time.Second), since: at(3 * time.Second)}, lastWrite: at(time.Second)}, now: at(6 * time.Second),
			want: decision{requeueAfter: 5 * time.Second, pending: pending{first: at(3 * time.Second), since: at(3 * time.Second)}},
		},
		"first sight, last write too recent: waits for the later of both": {
			cur: none, next: progress(1, twv1.ReasonDeploymentProgressing),
			memo: memo{lastWrite: at(-9 * time.Second)}, now: t0,
			want: decision{requeueAfter: 2 * time.Second, pending: pending{first: t0, since: t0}},
		},
		"Ready True is written at once": {
			cur: progress(1, twv1.ReasonDeploymentProgressing), next: ready,
			memo: memo{pending: pending{first: t0, since: t0}, lastWrite: t0}, now: at(time.Millisecond),
			want: decision{write: true, pending: pending{first: t0, since: t0}},
		},
		"failure is written at once": {
			cur: progress(1, twv1.ReasonDeploymentProgressing), next: failure,
			memo: memo{lastWrite: t0}, now: at(time.Millisecond), want: decision{write: true},
		},
		"stalled is written at once": {
			cur: progress(1, twv1.ReasonCredentialsPending), next: stalled, now: t0, want: decision{write: true},
		},
		"recovery from a failure is written at once": {
			cur: failure, next: progress(1, twv1.ReasonDeploymentProgressing),
			memo: memo{lastWrite: t0}, now: at(time.Millisecond), want: decision{write: true},
		},
		"leaving Ready True is written at once": {
			cur: ready, next: progress(1, twv1.ReasonDeploymentProgressing),
			memo: memo{lastWrite: t0}, now: at(time.Millisecond), want: decision{write: true},
		},
		"a new generation is written at once": {
			cur: progress(1, twv1.ReasonDeploymentProgressing), next: progress(2, twv1.ReasonDeploymentProgressing),
			memo: memo{lastWrite: t0}, now: at(time.Millisecond), want: decision{write: true},
		},
		"progress without Reconciling is not progress": {
			cur:  progress(1, twv1.ReasonCredentialsPending),
			next: statusWith(1, metav1.ConditionFalse, twv1.ReasonDeploymentProgressing, false),
			now:  t0, want: decision{write: true},
		},
		"an urgent change is written at once": {
			cur: progress(1, twv1.ReasonCredentialsPending), next: progress(1, twv1.ReasonDeploymentProgressing), urgent: true,
			memo: memo{lastWrite: t0}, now: at(time.Millisecond), want: decision{write: true},
		},
		"a further step restarts the settle delay": {
			cur: none, next: step(2),
			memo: memo{pending: pending{first: t0, since: t0, digest: 1}}, now: at(1500 * time.Millisecond),
			want: decision{requeueAfter: 2 * time.Second, pending: pending{first: t0, since: at(1500 * time.Millisecond), digest: 2}},
		},
		"the same deferred step does not restart it": {
			cur: none, next: step(1),
			memo: memo{pending: pending{first: t0, since: t0, digest: 1}}, now: at(time.Second),
			want: decision{requeueAfter: time.Second, pending: pending{first: t0, since: t0, digest: 1}},
		},
		"steps that never stop are written MinInterval after the first": {
			cur: none, next: step(3),
			memo: memo{pending: pending{first: t0, since: at(9500 * time.Millisecond), digest: 2}}, now: at(10 * time.Second),
			want: decision{write: true, pending: pending{first: t0, since: at(10 * time.Second), digest: 3}, progress: true},
		},
		"a step just taken restarts the wait, long after the first": {
			cur: none, next: step(2), stepped: true,
			memo: memo{pending: pending{first: t0, since: t0, digest: 1}, lastWrite: at(-time.Minute)}, now: at(20 * time.Second),
			want: decision{requeueAfter: 2 * time.Second, pending: pending{first: at(20 * time.Second), since: at(20 * time.Second), digest: 2, restarted: true}},
		},
		"the next event after the step waits for the settle delay too": {
			cur: none, next: step(3),
			memo: memo{pending: pending{first: at(20 * time.Second), since: at(20 * time.Second), digest: 2, restarted: true}}, now: at(20500 * time.Millisecond),
			want: decision{requeueAfter: 2 * time.Second, pending: pending{first: at(20 * time.Second), since: at(20500 * time.Millisecond), digest: 3, restarted: true}},
		},
		"a step taken on every reconcile restarts the wait once": {
			cur: none, next: step(4), stepped: true,
			memo: memo{pending: pending{first: t0, since: at(9500 * time.Millisecond), digest: 3, restarted: true}}, now: at(10 * time.Second),
			want: decision{write: true, pending: pending{first: t0, since: at(10 * time.Second), digest: 4, restarted: true}, progress: true},
		},
		"a step just taken that leaves Ready is written at once": {
			cur: ready, next: step(2), stepped: true, memo: memo{lastWrite: at(-time.Minute)}, now: t0, want: decision{write: true},
		},
		"a second progress status waits sixteen intervals after the first": {
			cur: progress(1, twv1.ReasonCredentialsPending), next: step(2),
			memo: memo{lastWrite: t0, shown: true}, now: at(11 * time.Second),
			want: decision{requeueAfter: 149 * time.Second, pending: pending{first: at(11 * time.Second), since: at(11 * time.Second), digest: 2}},
		},
		"a second progress status is not written after twice the settle delay and interval": {
			cur: progress(1, twv1.ReasonCredentialsPending), next: step(2),
			memo: memo{pending: pending{first: at(11 * time.Second), since: at(11 * time.Second), digest: 2}, lastWrite: t0, shown: true}, now: at(20 * time.Second),
			want: decision{requeueAfter: 140 * time.Second, pending: pending{first: at(11 * time.Second), since: at(11 * time.Second), digest: 2}},
		},
		"a second progress status is written once held sixteen settle delays, sixteen intervals after the first": {
			cur: progress(1, twv1.ReasonCredentialsPending), next: step(2),
			memo: memo{pending: pending{first: at(11 * time.Second), since: at(11 * time.Second), digest: 2}, lastWrite: t0, shown: true}, now: at(160 * time.Second),
			want: decision{write: true, pending: pending{first: at(11 * time.Second), since: at(11 * time.Second), digest: 2}, progress: true},
		},
		"a progress status shown, the memory of it forgotten: the wait is still the longer one": {
			cur: progress(1, twv1.ReasonCredentialsPending), next: step(2), stepped: true,
			memo: memo{}, now: at(5 * time.Minute),
			want: decision{requeueAfter: 32 * time.Second, pending: pending{first: at(5 * time.Minute), since: at(5 * time.Minute), digest: 2, restarted: true}},
		},
		"first status in progress is deferred": {
			cur: none, next: progress(1, twv1.ReasonCredentialsPending),
			now: t0, want: decision{requeueAfter: 2 * time.Second, pending: pending{first: t0, since: t0}},
		},
		"first status in progress is written once settled": {
			cur: none, next: progress(1, twv1.ReasonCredentialsPending),
			memo: memo{pending: pending{first: t0, since: t0}}, now: at(2 * time.Second), want: decision{write: true, pending: pending{first: t0, since: t0}, progress: true},
		},
		"first status Ready within the settle delay is written at once": {
			cur: none, next: ready, memo: memo{pending: pending{first: t0, since: t0}}, now: at(time.Second),
			want: decision{write: true, pending: pending{first: t0, since: t0}},
		},
		"first status failure is written at once": {
			cur: none, next: stalled, now: t0, want: decision{write: true},
		},
		"equal status: no write and the mark cleared": {
			cur: progress(1, twv1.ReasonCredentialsPending), next: progress(1, twv1.ReasonCredentialsPending), equal: true,
			memo: memo{pending: pending{first: t0, since: t0}, lastWrite: t0}, now: at(time.Second), want: decision{},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := decide(tc.cur, tc.next, tc.equal, tc.urgent, tc.stepped, tc.memo, tc.now, timing); got != tc.want {
				t.Errorf("decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		shown                    bool
		wantSettle, wantInterval time.Duration
	}{
		{false, 2 * time.Second, 10 * time.Second},
		{true, 32 * time.Second, 160 * time.Second},
	}
	for _, tc := range tests {
		if settle, interval := timing.backoff(tc.shown); settle != tc.wantSettle || interval != tc.wantInterval {
			t.Errorf("backoff(%v) = %s, %s; want %s, %s", tc.shown, settle, interval, tc.wantSettle, tc.wantInterval)
		}
	}
	if got, longest := timing.forgetAfter(), 32*time.Second+160*time.Second; got <= longest {
		t.Errorf("forgetAfter %s would forget an object waiting %s", got, longest)
	}
}

func TestDecideWithoutDelaysWritesAtOnce(t *testing.T) {
	progress := statusWith(1, metav1.ConditionFalse, twv1.ReasonCredentialsPending, true)
	if got := decide(summary{}, progress, false, false, false, memo{lastWrite: t0}, t0, Timing{}); !got.write {
		t.Errorf("decide = %+v, want a write", got)
	}
}

// TestCoalescerMemory follows one object through the coalescer on a fake clock: what it remembers
// between decisions, that a write clears the pending mark, and that entries do not outlive use.
func TestCoalescerMemory(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(t0)
	c := NewCoalescer(clk, timing)
	uid := types.UID("u1")
	waiting := statusWith(1, metav1.ConditionFalse, twv1.ReasonCredentialsPending, true)
	progressing := statusWith(1, metav1.ConditionFalse, twv1.ReasonDeploymentProgressing, true)
	ready := statusWith(1, metav1.ConditionTrue, twv1.ReasonReconciled, false)

	step := func(cur, next summary, equal, wantWrite bool, wantAfter time.Duration) {
		t.Helper()
		d := c.decide(uid, cur, next, equal, false, false)
		if d.write != wantWrite || d.requeueAfter != wantAfter {
			t.Fatalf("at %s: decide = %+v, want write=%v requeueAfter=%s", clk.Now().Sub(t0), d, wantWrite, wantAfter)
		}
		if d.write {
			c.written(uid, d.progress)
		}
	}
	step(summary{}, waiting, false, false, 2*time.Second)
	clk.SetTime(t0.Add(time.Second))
	step(summary{}, waiting, false, false, time.Second)
	clk.SetTime(t0.Add(2 * time.Second))
	step(summary{}, waiting, false, true, 0)
	if m := c.objects[uid]; !m.shown {
		t.Fatalf("after the first progress status: shown not set")
	}
	// Next progress: settle from now, but the interval since the write decides, sixteen times
	// the first since one progress status was shown.
	clk.SetTime(t0.Add(3 * time.Second))
	step(waiting, progressing, false, false, 159*time.Second)
	// Back to what is written: nothing to write and no mark left.
	step(waiting, waiting, true, false, 0)
	if m := c.objects[uid]; m.pending != (pending{}) {
		t.Fatalf("equal status kept the waiting mark: %+v", m)
	}
	step(waiting, progressing, false, false, 159*time.Second)
	clk.SetTime(t0.Add(4 * time.Second))
	step(waiting, ready, false, true, 0)
	if m := c.objects[uid]; m.pending != (pending{}) || !m.lastWrite.Equal(clk.Now()) || m.shown {
		t.Fatalf("after Ready: %+v, want only the write time", m)
	}

	// Another object's decision long after sweeps the first one's entry away.
	clk.SetTime(t0.Add(timing.forgetAfter() + 5*time.Second))
	if d := c.decide("u2", summary{}, waiting, false, false, false); d.write {
		t.Fatalf("first progress of u2 written at once")
	}
	if _, ok := c.objects[uid]; ok || c.len() != 1 {
		t.Errorf("stale entry kept: %d entries", c.len())
	}
}
