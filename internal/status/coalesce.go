package status

import (
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
)

// Timing says how long steps of normal progress may wait before they are written.
type Timing struct {
	// SettleDelay is how long a progress-only status must hold still (no further step, no Ready)
	// before it is written.
	SettleDelay time.Duration
	// MinInterval is the least time between two progress-only writes of the same object, and the
	// longest a progress step waits while further steps keep coming.
	MinInterval time.Duration
}

// DefaultTiming is the manager's default: a resource whose steps come less than eight seconds apart
// until Ready has its status written once, as Ready; a slow one shows where it stopped after eight
// seconds, and its progress at most every ten. Not two: at 1000 tenants an Integration's last
// steps (credentials synced, Deployment rolled out, available) took over two seconds for four in
// ten of them. Not five: at 100 tenants, back-to-back bench runs wrote 681 Integration statuses
// for 300 with 5s and 598 with 8s (the difference: Deployments slower than 5s to roll out), and
// reached Ready as fast. Each such write showed a step nobody had time to read.
var DefaultTiming = Timing{SettleDelay: 8 * time.Second, MinInterval: 10 * time.Second}

// Coalescer defers status writes that only report the next step of normal progress, so that an
// object converging through several such steps writes its status about twice (its first progress
// and Ready) instead of once per step. It remembers, per object UID and in memory only, since when
// a progress change has been waiting and when the status was last written; after a restart every
// object counts as written long ago. A nil *Coalescer writes every change at once.
type Coalescer struct {
	clock  clock.PassiveClock
	timing Timing

	mu        sync.Mutex
	objects   map[types.UID]memo
	lastSweep time.Time
}

// NewCoalescer returns a Coalescer that reads the time from c.
func NewCoalescer(c clock.PassiveClock, t Timing) *Coalescer {
	return &Coalescer{clock: c, timing: t, objects: map[types.UID]memo{}}
}

// memo is what the coalescer remembers of one object. The zero value is what it knows of an object
// it has never seen.
type memo struct {
	// pending is the progress change waiting to be written; zero when none waits.
	pending pending
	// lastWrite is when this process last wrote the object's status; zero when unknown.
	lastWrite time.Time
	// shown is set once a progress-only status has been written since the last status that was
	// not one (Ready, a failure, a new generation): it lengthens the wait of the next (Timing.backoff).
	shown bool
}

// pending is a deferred progress change.
type pending struct {
	// first is when the first change deferred since the last write was seen: nothing waits longer
	// than MinInterval from it.
	first time.Time
	// since is when the status now deferred (digest) was first seen: it is written once it has
	// held still for SettleDelay.
	since  time.Time
	digest uint64
	// restarted is set once a step of the controller's own has restarted first (decide).
	restarted bool
}

// summary is what the decision needs to know of one status.
type summary struct {
	hasReady           bool
	progress           bool
	observedGeneration int64
	// digest tells one status from another.
	digest uint64
}

func summarize(conds []metav1.Condition, observedGeneration int64, digest uint64) summary {
	return summary{
		hasReady:           conditions.Get(conds, twv1.ConditionReady) != nil,
		progress:           conditions.IsProgress(conds),
		observedGeneration: observedGeneration,
		digest:             digest,
	}
}

// deferrable reports whether going from cur to next only reports a further step of normal progress
// of the same generation, or the first status of an object that is still converging. Everything
// else (Ready True, a failure, leaving Ready True, a new generation) is written at once.
func deferrable(cur, next summary) bool {
	if !next.progress {
		return false
	}
	if !cur.hasReady {
		return true
	}
	return cur.progress && cur.observedGeneration == next.observedGeneration
}

// decision is the outcome of decide.
type decision struct {
	// write: patch the status now.
	write bool
	// requeueAfter is when to look again at a deferred change; zero when nothing is deferred.
	requeueAfter time.Duration
	// pending is the object's pending mark after this decision (zero: none). A write keeps the
	// mark until it succeeds, so that a failed write is retried without waiting again.
	pending pending
	// progress: the write shows a deferred step of progress (it sets memo.shown).
	progress bool
}

// decide is the whole policy, a pure function of the two statuses, whether they are equal or the
// change is urgent (written at once whatever Ready says, see Kind.Urgent), whether the reconcile
// has just taken the step next reports (WriteAfterStep), what is remembered of the object and the
// time.
func decide(cur, next summary, equal, urgent, stepped bool, m memo, now time.Time, t Timing) decision {
	if equal {
		return decision{}
	}
	if urgent || !deferrable(cur, next) {
		return decision{write: true, pending: m.pending}
	}
	// A debounce: each further step restarts the settle delay, so an object stepping through
	// progress faster than SettleDelay writes only where it stops (often Ready, written at once).
	// MinInterval from the first deferred step bounds the wait of one that never stops. Both are
	// longer once the object has shown progress (backoff).
	settle, interval := t.backoff(shownSoFar(cur, next, m))
	p := m.pending
	if p.first.IsZero() {
		p.first = now
	}
	if stepped && !p.restarted {
		// What this reconcile would write reports a step it took a moment ago (a Deployment its
		// controller has not seen yet), out of date within a second, however long the object took
		// to get here. The step starts the wait again, once per deferred change, so that a step
		// taken on every reconcile (a fight over the Deployment) still shows after MinInterval.
		p.first, p.since, p.restarted = now, now, true
	}
	if p.since.IsZero() || p.digest != next.digest {
		p.since, p.digest = now, next.digest
	}
	wait := min(p.since.Add(settle).Sub(now), p.first.Add(interval).Sub(now))
	if !m.lastWrite.IsZero() {
		wait = max(wait, m.lastWrite.Add(interval).Sub(now))
	}
	if wait <= 0 {
		return decision{write: true, pending: p, progress: true}
	}
	return decision{requeueAfter: wait, pending: p}
}

// shownSoFar reports whether the object has shown a progress status in this convergence: what this
// process remembers, or the status it has being one. The memory is forgotten with the
// entry (an object that waits minutes for its credentials without an event outlives forgetAfter)
// and after a restart; the status is not.
func shownSoFar(cur, next summary, m memo) bool {
	return m.shown || (cur.hasReady && cur.progress && cur.observedGeneration == next.observedGeneration)
}

// laterProgressFactor is how many times longer than the first a later progress status of one
// convergence waits: 128s held still, or 160s while steps keep coming, by default. At 1000 tenants
// the Deployment controller took a median 56s to roll out a sync Deployment the operator had just
// applied (90th percentile 118s, run V in docs/benchmarks.md); an Integration that had shown
// CredentialsPending then wrote DeploymentProgressing for nearly every such wait, about 2100 statuses
// nobody had time to read. A rollout stuck for longer still shows, and a failed one (the Deployment's
// progress deadline) is a failure, written at once.
const laterProgressFactor = 16

// backoff returns the settle delay and interval for an object that has, or has not, shown progress
// since its last status that was not progress: the first progress shows within MinInterval, every
// later one of the same convergence waits laterProgressFactor times as long, so that an object
// converging slowly behind busy controllers writes one status that says what it waited for first,
// then Ready, and shows a later wait only when it lasts minutes.
func (t Timing) backoff(shown bool) (settle, interval time.Duration) {
	if !shown {
		return t.SettleDelay, t.MinInterval
	}
	return t.SettleDelay * laterProgressFactor, t.MinInterval * laterProgressFactor
}

// forgetAfter is how long an entry outlives its last use. An object with a deferred change is
// requeued within the longest settle delay or interval, so an entry older than that plus a minute
// belongs to an object that is gone (or to a queue a minute behind, which then waits once more);
// a last write older than the longest interval no longer holds anything back.
func (t Timing) forgetAfter() time.Duration {
	return (t.SettleDelay+t.MinInterval)*laterProgressFactor + time.Minute
}

// decide applies the policy to one object and records its pending mark.
func (c *Coalescer) decide(uid types.UID, cur, next summary, equal, urgent, stepped bool) decision {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	c.sweep(now)
	m := c.objects[uid]
	d := decide(cur, next, equal, urgent, stepped, m, now, c.timing)
	m.pending = d.pending
	c.store(uid, m)
	return d
}

// written records a successful status write; progress says it showed a deferred step of progress.
func (c *Coalescer) written(uid types.UID, progress bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.store(uid, memo{lastWrite: c.clock.Now(), shown: progress})
}

func (c *Coalescer) store(uid types.UID, m memo) {
	if m == (memo{}) {
		delete(c.objects, uid)
		return
	}
	c.objects[uid] = m
}

// sweep drops, at most once per forgetAfter, the entries that can no longer matter. Deleted objects
// are not reported to the coalescer (a reconcile that finds one gone knows only its name), so this
// is what keeps the map bounded by the objects written or deferred recently.
func (c *Coalescer) sweep(now time.Time) {
	horizon := c.timing.forgetAfter()
	if now.Sub(c.lastSweep) < horizon {
		return
	}
	c.lastSweep = now
	for uid, m := range c.objects {
		if now.Sub(m.pending.since) >= horizon && now.Sub(m.lastWrite) >= horizon {
			delete(c.objects, uid)
		}
	}
}

// len is the number of objects remembered, for tests.
func (c *Coalescer) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.objects)
}
