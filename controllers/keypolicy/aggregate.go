package keypolicy

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/lifecycle"
	"github.com/tenantwire/tenantwire/internal/status"
)

// incompleteRecheck is how long the status waits for a tenant that has not reported. The tenant's
// own reconcile wakes it first; this only guards against a wake-up lost between the two caches'
// views.
const incompleteRecheck = 30 * time.Second

// reconcileStatus aggregates a policy's status from its tenants' results and settles its
// on-demand rotation request. It reads only the cache and the results, never a keyring.
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
	var errs []error
	for _, t := range r.requests.begin(kp, covered) {
		r.tenantQueue.add(t, 0)
	}
	if r.requests.finished(kp.Name, covered) {
		errs = append(errs, r.clearRotationRequest(ctx, kp))
	}

	results := make([]tenantResult, 0, len(covered))
	for _, t := range covered {
		res, ok := r.results.get(t.Name)
		if !ok || res.policy != kp.Name || res.generation != kp.Generation {
			// A status of this generation is written only once every tenant has reported on it:
			// anything less would be a partial status, and after a restart a needless write.
			return ctrl.Result{RequeueAfter: wait.Jitter(incompleteRecheck, 0.1)}, errors.Join(errs...)
		}
		results = append(results, res)
	}
	errs = append(errs, r.writeStatus(ctx, kp, computeStatus(kp, results, metav1.NewTime(now))))
	return ctrl.Result{}, errors.Join(errs...)
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
// not coalesced: it is written only once every covered tenant has reported, changes are already
// gathered for statusBatchDelay, and every reason it can be not Ready with is a problem, which
// the coalescing rules would write at once anyway.
func (r *Reconciler) writeStatus(ctx context.Context, kp *twv1.KeyPolicy, st twv1.KeyPolicyStatus) error {
	_, err := status.Write(ctx, r.statusWriter, kp, keyPolicyStatus, &kp.Status, st)
	return err
}
