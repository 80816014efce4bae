package keypolicy

import (
	"context"
	"strings"
	"sync/atomic"
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
	"sigs.k8s.io/controller-runtime/pkg/source"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/childcache"
	"github.com/tenantwire/tenantwire/internal/labels"
)

// StatusControllerName names the controller that aggregates a KeyPolicy's status from its tenants.
const StatusControllerName = "keypolicy-status"

// statusBatchDelay gathers the tenant results that arrive close together into one status write of
// their policy: during a rollout of many tenants, one write per second instead of one per tenant.
const statusBatchDelay = time.Second

// SetupWithManager registers two controllers. "keypolicy" takes requests keyed by Tenant name and
// converges that tenant's keyring, reader Role and RoleBinding and key source, so tenants are
// worked on in parallel and a policy with many tenants is not one long work item.
// "keypolicy-status" takes requests keyed by KeyPolicy name and only aggregates the tenants'
// results into the policy's status (and settles on-demand rotation requests); it never touches a
// keyring.
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
			builder.WithPredicates(keyringStatusChanged)).
		WatchesRawSource(r.tenantQueue.source())
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
	// The status aggregates over Tenants, which only the other controller watches; it may start
	// first.
	if err := childcache.ReadsFromCache(mgr.GetCache(), &twv1.Tenant{}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&twv1.KeyPolicy{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		WatchesRawSource(r.statusQueue.source()).
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

// integrationToAwaitingTenant wakes a tenant whose keyring waits for its consumers to rewrap.
// Other tenants ignore their Integrations' rewrap reports, which during a rollout of many
// Integrations come by the thousand.
func (r *Reconciler) integrationToAwaitingTenant(ctx context.Context, obj client.Object) []reconcile.Request {
	reqs := integrationToTenant(ctx, obj)
	if len(reqs) == 0 {
		return nil
	}
	if _, waiting := r.awaitingRewrap.Load(reqs[0].Name); !waiting {
		return nil
	}
	return reqs
}

// queueRef captures a controller's work queue when the controller starts, so that one controller
// can hand work to the other: tenant results to the status aggregation, on-demand rotations to
// the tenants. Before the start (and in tests that call Reconcile directly) adding is a no-op.
type queueRef struct {
	q atomic.Pointer[workqueue.TypedRateLimitingInterface[reconcile.Request]]
}

func (q *queueRef) source() source.Source {
	return source.Func(func(_ context.Context, queue workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		q.q.Store(&queue)
		return nil
	})
}

// add enqueues a cluster-scoped name after a delay; a name already waiting keeps its earlier time.
func (q *queueRef) add(name string, after time.Duration) {
	if queue := q.q.Load(); queue != nil && name != "" {
		(*queue).AddAfter(reconcile.Request{NamespacedName: client.ObjectKey{Name: name}}, after)
	}
}
