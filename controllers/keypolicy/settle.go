package keypolicy

import (
	"context"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/apply"
)

// A tenant's Integrations usually arrive together (one GitOps sync, one script), milliseconds
// apart, and each wakes the tenant. Binding each as it appears rewrites the reader binding once per
// Integration; waiting a moment for its siblings writes it once.
const (
	// readerSettle is how long after a consumer's creation its binding waits for siblings.
	readerSettle = 2 * time.Second
	// readerSettleCap bounds the wait from the creation of the oldest consumer not yet bound, so
	// that a steady stream of new consumers cannot hold the binding back.
	readerSettleCap = 10 * time.Second
	// creationGranularity: creationTimestamp is truncated to the second, so a consumer stamped c
	// was created in [c, c+1s).
	creationGranularity = time.Second
)

// readerChange is what applying the reader binding would change.
type readerChange struct {
	// added are the creation times of the consumers the binding would newly grant.
	added []time.Time
	// revokes is set when it would drop or alter a subject the binding grants now.
	revokes bool
}

// readerDelay returns how long to hold back the reader binding; zero means apply now. A revocation
// never waits, nor does a change that grants nothing new. An addition waits until every added
// consumer is readerSettle old, counted from the latest creation its timestamp allows, and never
// beyond readerSettleCap after the oldest one's, counted from the earliest. A creation time ahead of
// now means the clocks disagree: settling only saves writes, so the binding is applied.
func readerDelay(c readerChange, now time.Time) time.Duration {
	if c.revokes || len(c.added) == 0 {
		return 0
	}
	settled, oldest := time.Time{}, c.added[0]
	for _, created := range c.added {
		if created.After(now.Add(creationGranularity)) {
			return 0
		}
		if s := settledAt(created); s.After(settled) {
			settled = s
		}
		if created.Before(oldest) {
			oldest = created
		}
	}
	until := settled
	if limit := oldest.Add(readerSettleCap); limit.Before(until) {
		until = limit
	}
	return max(until.Sub(now), 0)
}

// settledAt is when a consumer stamped created is surely readerSettle old.
func settledAt(created time.Time) time.Time {
	return created.Add(creationGranularity + readerSettle)
}

// readerChangeOf compares the live binding (nil when there is none) with the consumers it should
// bind.
func readerChangeOf(live *rbacv1.RoleBinding, consumers []twv1.Integration) readerChange {
	granted := map[rbacv1.Subject]bool{}
	if live != nil {
		for _, s := range live.Subjects {
			granted[s] = true
		}
	}
	var c readerChange
	wanted := map[rbacv1.Subject]bool{}
	for _, in := range consumers {
		s := readerSubject(in.Namespace, in.Name)
		wanted[s] = true
		if !granted[s] {
			c.added = append(c.added, in.CreationTimestamp.Time)
		}
	}
	for s := range granted {
		if !wanted[s] {
			c.revokes = true
		}
	}
	return c
}

// readerBinding returns the reader binding to apply now, or nil and how long to hold it back (zero
// when there is nothing to apply: no consumers and no binding, which would grant nothing). The
// live subjects are read only while a consumer is settling, and not even then when the cache
// shows the binding converged or absent: the cache holds bindings without their subjects.
func (r *Reconciler) readerBinding(ctx context.Context, t *twv1.Tenant, kp *twv1.KeyPolicy,
	consumers []twv1.Integration, now time.Time) (*rbacv1.RoleBinding, time.Duration, error) {
	desired := desiredReaderBinding(t, kp, consumerNames(consumers))
	if len(consumers) > 0 && !anySettling(consumers, now) {
		return desired, 0, nil
	}
	var live *rbacv1.RoleBinding
	switch known, err := r.apply.Known(ctx, desired); {
	case err != nil:
		return nil, 0, err
	case known == apply.Held:
		return desired, 0, nil
	case known == apply.Unknown:
		// Read from etcd, not a cache: this decides whether a revocation waits.
		live = &rbacv1.RoleBinding{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), live); apierrors.IsNotFound(err) {
			live = nil
		} else if err != nil {
			return nil, 0, err
		}
	}
	if live == nil && len(consumers) == 0 {
		return nil, 0, nil
	}
	if d := readerDelay(readerChangeOf(live, consumers), now); d > 0 {
		return nil, d, nil
	}
	return desired, 0, nil
}

// anySettling reports whether some consumer may be younger than readerSettle.
func anySettling(consumers []twv1.Integration, now time.Time) bool {
	for _, in := range consumers {
		if settledAt(in.CreationTimestamp.Time).After(now) {
			return true
		}
	}
	return false
}
