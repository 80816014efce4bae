package keypolicy

import (
	"context"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// requestTracker carries a rotate-now annotation from the policy to its tenants. The status
// controller owns a request: it marks the named tenants pending and wakes them, each tenant's
// reconcile rotates and marks itself done, and once none is pending the annotation is removed.
// Removing it last means an operator that stops half-way rotates the rest after its restart
// (a tenant may then rotate twice, never zero times).
type requestTracker struct {
	mu sync.Mutex
	// inFlight is the annotation value being carried out, per policy. While the annotation keeps
	// that value it is the same request, whatever else changes on the policy (its status does).
	inFlight map[string]string
	// waiting is the tenants still to rotate, per policy.
	waiting map[string]map[string]bool
	// clearedAt is the resourceVersion of the policy whose annotation was last removed: a cached
	// copy of exactly that version still shows the annotation and is not a new request.
	clearedAt map[string]string
}

// begin starts the request the policy carries unless it is already in flight or was just cleared.
// It returns the tenants to wake.
func (q *requestTracker) begin(kp *twv1.KeyPolicy, covered []twv1.Tenant) []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	value, requested := kp.Annotations[twv1.RotateNowAnnotation]
	if !requested {
		delete(q.inFlight, kp.Name)
		delete(q.waiting, kp.Name)
		return nil
	}
	if q.clearedAt[kp.Name] == kp.ResourceVersion {
		return nil
	}
	if v, ok := q.inFlight[kp.Name]; ok && v == value {
		return nil
	}
	if q.inFlight == nil {
		q.inFlight, q.waiting = map[string]string{}, map[string]map[string]bool{}
	}
	named := rotationRequest(value)
	q.inFlight[kp.Name] = value
	q.waiting[kp.Name] = map[string]bool{}
	var wake []string
	for _, t := range covered {
		if named(t.Name) {
			q.waiting[kp.Name][t.Name] = true
			wake = append(wake, t.Name)
		}
	}
	return wake
}

// pending reports whether the tenant has an on-demand rotation to carry out.
func (q *requestTracker) pending(policy, tenant string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.waiting[policy][tenant]
}

// done records that the tenant rotated for the request.
func (q *requestTracker) done(policy, tenant string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.waiting[policy], tenant)
}

// finished reports whether the request in flight has no tenant left to rotate among those still
// covered (a tenant that left the policy no longer holds it up).
func (q *requestTracker) finished(policy string, covered []twv1.Tenant) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.inFlight[policy]; !ok {
		return false
	}
	for _, t := range covered {
		if q.waiting[policy][t.Name] {
			return false
		}
	}
	return true
}

// cleared forgets the finished request; rv is the version of the policy the annotation was removed from.
func (q *requestTracker) cleared(policy, rv string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, policy)
	delete(q.waiting, policy)
	if q.clearedAt == nil {
		q.clearedAt = map[string]string{}
	}
	q.clearedAt[policy] = rv
}

// rotationRequest reads a rotate-now value: "*", "true" or empty name every tenant, otherwise a
// comma-separated list of tenant names.
func rotationRequest(v string) func(tenant string) bool {
	v = strings.TrimSpace(v)
	if v == "" || v == "*" || v == "true" {
		return func(string) bool { return true }
	}
	names := strings.Split(v, ",")
	for i := range names {
		names[i] = strings.TrimSpace(names[i])
	}
	return func(t string) bool { return slices.Contains(names, t) }
}

// clearRotationRequest records the request as an event and removes the annotation.
func (r *Reconciler) clearRotationRequest(ctx context.Context, kp *twv1.KeyPolicy) error {
	rv := kp.ResourceVersion
	patch := client.MergeFrom(kp.DeepCopy())
	value := kp.Annotations[twv1.RotateNowAnnotation]
	delete(kp.Annotations, twv1.RotateNowAnnotation)
	if err := r.Client.Patch(ctx, kp, patch); err != nil {
		return err
	}
	r.requests.cleared(kp.Name, rv)
	r.Recorder.Eventf(kp, corev1.EventTypeNormal, "RotationRequested", "On-demand rotation requested for %q", value)
	return nil
}
