package keypolicy

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/labels"
)

// StatusControllerName names the controller that aggregates a KeyPolicy's status from its tenants.
const StatusControllerName = "keypolicy-status"

// statusBatchDelay gathers the tenant reports that arrive close together into one status write of
// their policy: during a rollout of many tenants, one write per second instead of one per tenant.
const statusBatchDelay = time.Second

// SetupWithManager registers two controllers. "keypolicy" takes requests keyed by Tenant name and
// converges that tenant's keyring, reader Role and RoleBinding and key source, so tenants are
// worked on in parallel and a policy with many tenants is not one long work item.
// "keypolicy-status" takes requests keyed by KeyPolicy name and only computes the policy's status
// from its tenants' status.keyring, as the cache holds them; it never touches a keyring. The two
// share no memory: the Tenant's status is the contract between them.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	r.complete()
	if r.Informers == nil {
		r.Informers = mgr.GetCache()
	}
	byTenantLabel := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
		return tenantRequest(obj.GetLabels()[labels.Tenant])
	})
	// Only our keyring children carry the policy label; other labelled Secrets, Roles and
	// RoleBindings (the Integrations' and the Tenants') are not ours to wake.
	keyringChild := predicate.NewPredicateFuncs(func(obj client.Object) bool {
		return obj.GetLabels()[labels.KeyPolicy] != ""
	})
	b := ctrl.NewControllerManagedBy(mgr).
		// Every Tenant change, the keyring report included: a report that disagrees with the
		// cluster (computed from a cache behind the last keyring write, or written by hand) is
		// compared with the cluster once more and rewritten. After its own current report the
		// reconcile writes nothing; ignoring those updates let a stale report stand until the next
		// rotation.
		For(&twv1.Tenant{}).
		Watches(&corev1.Secret{}, byTenantLabel, builder.WithPredicates(keyringChild)).
		// The set of consumers changes when an Integration comes, goes or is relabelled; its
		// status writes change nothing here.
		Watches(&twv1.Integration{}, handler.EnqueueRequestsFromMapFunc(integrationToTenant),
			builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}))).
		Watches(&twv1.KeyPolicy{}, handler.EnqueueRequestsFromMapFunc(r.policyToTenants),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// What a consumer reports it rewrapped to matters only to a keyring that keeps versions
		// until its consumers rewrap; the Integration controller's other status writes, none.
		Watches(&twv1.Integration{}, handler.EnqueueRequestsFromMapFunc(r.integrationToAwaitingTenant),
			builder.WithPredicates(keyringStatusChanged))
	for _, kind := range []client.Object{&rbacv1.Role{}, &rbacv1.RoleBinding{}} {
		src, err := r.Children.Source(kind, byTenantLabel, keyringChild)
		if err != nil {
			return err
		}
		b = b.WatchesRawSource(src)
	}
	err := b.WithOptions(opts).Named(ControllerName).Complete(r)
	if err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&twv1.KeyPolicy{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// The same Tenant informer as the other controller's: no further cache.
		Watches(&twv1.Tenant{}, handler.TypedFuncs[client.Object, reconcile.Request]{
			CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				r.wakePolicies(ctx, q, nil, e.Object)
			},
			UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				r.wakePolicies(ctx, q, e.ObjectOld, e.ObjectNew)
			},
			DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				r.wakePolicies(ctx, q, nil, e.Object)
			},
		}).
		// One writer of the status; the caller's other choices (a process that runs the controllers
		// more than once, as a restart test does, skips the name check) still hold.
		WithOptions(controller.Options{MaxConcurrentReconciles: 1, SkipNameValidation: opts.SkipNameValidation}).
		Named(StatusControllerName).
		Complete(reconcile.Func(r.reconcileStatus))
}

func tenantRequest(name string) []reconcile.Request {
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: name}}}
}

// integrationToTenant maps an Integration to the tenant of its namespace.
func integrationToTenant(_ context.Context, obj client.Object) []reconcile.Request {
	name, _ := strings.CutPrefix(obj.GetNamespace(), twv1.TenantNamespacePrefix)
	if name == obj.GetNamespace() {
		return nil
	}
	return tenantRequest(name)
}

// policyToTenants wakes the tenants a policy may cover: those naming it and, because the default
// may have moved to or away from it, those naming none.
func (r *Reconciler) policyToTenants(ctx context.Context, obj client.Object) []reconcile.Request {
	tenants := &twv1.TenantList{}
	if err := r.Client.List(ctx, tenants); err != nil {
		log.FromContext(ctx).Error(err, "listing tenants for key policy", "keypolicy", obj.GetName())
		return nil
	}
	var reqs []reconcile.Request
	for _, t := range tenants.Items {
		if ref := t.Spec.KeyPolicyRef; ref == nil || ref.Name == obj.GetName() {
			reqs = append(reqs, tenantRequest(t.Name)...)
		}
	}
	return reqs
}

// keyringStatusChanged passes the updates of an Integration that change status.keyring, the
// version its workload reports it rewrapped to.
var keyringStatusChanged = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, ok1 := e.ObjectOld.(*twv1.Integration)
		cur, ok2 := e.ObjectNew.(*twv1.Integration)
		return ok1 && ok2 && !equality.Semantic.DeepEqual(old.Status.Keyring, cur.Status.Keyring)
	},
}

// integrationToAwaitingTenant wakes a tenant whose keyring waits for its consumers to rewrap, as
// its status.keyring reports. Other tenants ignore their Integrations' rewrap reports, which during
// a rollout of many Integrations come by the thousand. A tenant that starts waiting writes that
// report, which wakes it once more: a rewrap reported before the Tenant's report reached the cache
// is seen by that reconcile.
func (r *Reconciler) integrationToAwaitingTenant(ctx context.Context, obj client.Object) []reconcile.Request {
	reqs := integrationToTenant(ctx, obj)
	if len(reqs) == 0 {
		return nil
	}
	t := &twv1.Tenant{}
	if err := r.Client.Get(ctx, reqs[0].NamespacedName, t); err != nil {
		return nil
	}
	if k := t.Status.Keyring; k == nil || k.HeldVersions == 0 {
		return nil
	}
	return reqs
}

// wakePolicies enqueues, after statusBatchDelay, the policies whose status a change of a Tenant
// may change: those its report names before and after, and those it may be covered by (the one it
// references, or the default when it references none). Other changes of a Tenant (the Tenant
// controller's status writes) wake none.
func (r *Reconciler) wakePolicies(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request], old, cur client.Object) {
	curT, ok := cur.(*twv1.Tenant)
	if !ok {
		return
	}
	oldT, _ := old.(*twv1.Tenant)
	if oldT != nil && !coverageOrReportChanged(oldT, curT) {
		return
	}
	names := map[string]bool{}
	for _, t := range []*twv1.Tenant{oldT, curT} {
		if t == nil {
			continue
		}
		if k := t.Status.Keyring; k != nil {
			names[k.Policy] = true
		}
		if ref := t.Spec.KeyPolicyRef; ref != nil {
			names[ref.Name] = true
			continue
		}
		policies := &twv1.KeyPolicyList{}
		if err := r.Client.List(ctx, policies, client.UnsafeDisableDeepCopy); err != nil {
			log.FromContext(ctx).Error(err, "listing key policies for tenant", "tenant", t.Name)
			continue
		}
		names[twv1.DefaultKeyPolicy(policies.Items)] = true
	}
	for name := range names {
		if name != "" {
			q.AddAfter(reconcile.Request{NamespacedName: client.ObjectKey{Name: name}}, statusBatchDelay)
		}
	}
}

// coverageOrReportChanged reports whether a Tenant update changes what a policy's status is
// computed from: its report, the policy it references, whether its namespace is ready, or whether
// its keys are still covered.
func coverageOrReportChanged(old, cur *twv1.Tenant) bool {
	return !equality.Semantic.DeepEqual(old.Status.Keyring, cur.Status.Keyring) ||
		!equality.Semantic.DeepEqual(old.Spec.KeyPolicyRef, cur.Spec.KeyPolicyRef) ||
		!old.DeletionTimestamp.Equal(cur.DeletionTimestamp) ||
		namespaceReady(old) != namespaceReady(cur) ||
		!equality.Semantic.DeepEqual(old.Status.PurgeAfter, cur.Status.PurgeAfter) ||
		!equality.Semantic.DeepEqual(old.Status.Purge, cur.Status.Purge) ||
		!equality.Semantic.DeepEqual(old.Status.PurgedAt, cur.Status.PurgedAt)
}
