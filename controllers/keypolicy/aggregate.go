package keypolicy

import (
	"context"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/lifecycle"
	"github.com/tenantwire/tenantwire/internal/status"
)

// unreportedRecheck is how long the status waits for a covered tenant whose status.keyring does
// not yet report on this generation of the policy. The tenant's report wakes it first; this only
// guards against a wake-up lost between the two controllers' views.
const unreportedRecheck = 30 * time.Second

// reconcileStatus computes a policy's status from the covered Tenants' status.keyring, as the
// cache holds them. It reads nothing else and remembers nothing, so a restarted operator computes
// the same status and writes nothing.
func (r *Reconciler) reconcileStatus(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	kp := &twv1.KeyPolicy{}
	if err := r.Client.Get(ctx, req.NamespacedName, kp); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !kp.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	covered, err := r.coveredTenants(ctx, kp, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	for i := range covered {
		if namespaceReady(&covered[i]) && !reportsOn(&covered[i], kp) {
			// A status of this generation is written only once every tenant has reported on it:
			// anything less would be a partial status, rewritten as the reports come in.
			return ctrl.Result{RequeueAfter: wait.Jitter(unreportedRecheck, 0.1)}, nil
		}
	}
	next := computeStatus(kp, covered, metav1.NewTime(now))
	if rotationCompleted(kp.Status.RotateNow, next.RotateNow) {
		r.Recorder.Eventf(kp, corev1.EventTypeNormal, "RotationCompleted",
			"On-demand rotation %q carried out by %d tenants", next.RotateNow.Request, next.RotateNow.Rotated)
	}
	return ctrl.Result{}, r.writeStatus(ctx, kp, next)
}

// reportsOn reports whether a tenant's status.keyring is a report on this generation of the policy.
func reportsOn(t *twv1.Tenant, kp *twv1.KeyPolicy) bool {
	k := t.Status.Keyring
	return k != nil && k.Policy == kp.Name && k.PolicyGeneration == kp.Generation
}

// rotationCompleted reports whether the status turns to show the request carried out by every
// tenant it names: the transition a RotationCompleted event announces.
func rotationCompleted(prev, next *twv1.KeyRotationRequestStatus) bool {
	if next == nil || next.Pending > 0 {
		return false
	}
	return prev == nil || prev.Request != next.Request || prev.Pending > 0
}

// coveredTenants lists the tenants whose effective policy is kp, in name order. A tenant whose
// purge is due or done is no longer covered: its keys are being destroyed, never recreated.
func (r *Reconciler) coveredTenants(ctx context.Context, kp *twv1.KeyPolicy, now time.Time) ([]twv1.Tenant, error) {
	// Both lists are only read; not copying them keeps the aggregation cheap at thousands of tenants.
	policies := &twv1.KeyPolicyList{}
	if err := r.Client.List(ctx, policies, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	tenants := &twv1.TenantList{}
	if err := r.Client.List(ctx, tenants, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	var out []twv1.Tenant
	for _, t := range tenants.Items {
		if !lifecycle.KeysDisposable(&t, now) && twv1.EffectiveKeyPolicy(&t, policies.Items) == kp.Name {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b twv1.Tenant) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

var keyPolicyStatus = status.Kind[twv1.KeyPolicyStatus]{
	Name:               "KeyPolicy",
	Conditions:         func(s *twv1.KeyPolicyStatus) []metav1.Condition { return s.Conditions },
	ObservedGeneration: func(s *twv1.KeyPolicyStatus) int64 { return s.ObservedGeneration },
	ReadyMessage:       "Keyrings of all covered tenants are current",
}

// writeStatus makes at most one status write, and none when nothing changed. A policy's status is
// not coalesced: it is written only once every covered tenant has reported, the reports that
// arrive close together are gathered for statusBatchDelay, and every reason it can be not Ready
// with is a problem, which the coalescing rules would write at once anyway.
func (r *Reconciler) writeStatus(ctx context.Context, kp *twv1.KeyPolicy, st twv1.KeyPolicyStatus) error {
	_, err := status.Write(ctx, r.statusWriter, kp, keyPolicyStatus, &kp.Status, st)
	return err
}
