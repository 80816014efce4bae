// Package tenant reconciles Tenants: the isolated namespace of one medical practice and everything
// that isolates it (Pod Security, default-deny networking, quota, limits, RBAC, sync identity).
package tenant

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/apply"
	"github.com/tenantwire/tenantwire/internal/childcache"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/lifecycle"
	"github.com/tenantwire/tenantwire/internal/metrics"
	"github.com/tenantwire/tenantwire/internal/secretpath"
	"github.com/tenantwire/tenantwire/internal/status"
	"github.com/tenantwire/tenantwire/internal/tenantevents"
)

const (
	// ControllerName names the controller, its field owner and its event source.
	ControllerName = "tenant"
	// Finalizer keeps a deleted Tenant until its data is purged: deletion starts offboarding.
	Finalizer = "tenantwire.io/tenant"
)

// Reconciler reconciles Tenant objects.
type Reconciler struct {
	// Client reads from the manager's cache (children filtered to our labels) and writes to the API.
	Client client.Client
	// APIReader reads around the cache: a namespace we do not own yet, and children the cache
	// holds slimmed, to compare them whole.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  record.EventRecorder
	Clock     clock.PassiveClock
	// DNS is where tenant pods may resolve names.
	DNS DNSTarget
	// MetricsScraper may scrape the sync pods' metrics port; nil: nothing may.
	MetricsScraper *MetricsScraper
	// Children watches the child kinds no controller reads (childcache.WatchedKinds).
	Children *childcache.Watches
	// StatusCoalescer defers status writes that only report further progress; nil writes every
	// change at once.
	StatusCoalescer *status.Coalescer

	// apply and statusWriter are built once, by complete.
	apply        *apply.Applier
	statusWriter status.Writer
}

// +kubebuilder:rbac:groups=tenantwire.io,resources=tenants,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=tenantwire.io,resources=tenants/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=tenantwire.io,resources=tenants/finalizers,verbs=update
// +kubebuilder:rbac:groups=tenantwire.io,resources=keypolicies;integrations,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=resourcequotas;limitranges;serviceaccounts,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=bind,resourceNames=tenantwire-tenant-admin;tenantwire-tenant-viewer;tenantwire-tenant-approver
// +kubebuilder:rbac:groups="",resources=secrets,verbs=delete,resourceNames=tenantwire-keyring
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the controller and the children it watches.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	r.complete()
	// The tenant's export status and purge record read its Integrations; the purge record reads
	// the KeyPolicy of its keys.
	if err := childcache.ReadsFromCache(mgr.GetCache(), &twv1.Integration{}, &twv1.KeyPolicy{}); err != nil {
		return err
	}
	// Whether a tenant's key vault path is its own is read through an index of the paths.
	if err := secretpath.Register(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&twv1.Tenant{}, builder.WithPredicates(tenantevents.BeyondKeyringReport)).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(namespaceToTenant)).
		// A Tenant that appears, goes, or moves its path prefix decides whether the Tenants whose
		// paths overlap it are refused; status writes change no path.
		Watches(&twv1.Tenant{}, handler.EnqueueRequestsFromMapFunc(r.tenantToOverlapping),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&batchv1.Job{}, handler.EnqueueRequestsFromMapFunc(exportJobToTenant)).
		// The purge waits for the Integrations' store purges (their status.storePurge).
		Watches(&twv1.Integration{}, handler.EnqueueRequestsFromMapFunc(storePurgeToTenant))
	owned, err := r.Children.OwnedBy(&twv1.Tenant{}, &networkingv1.NetworkPolicy{}, &corev1.ResourceQuota{},
		&corev1.LimitRange{}, &rbacv1.RoleBinding{}, &corev1.ServiceAccount{})
	if err != nil {
		return err
	}
	for _, src := range owned {
		b = b.WatchesRawSource(src)
	}
	return b.WithOptions(opts).Named(ControllerName).Complete(r)
}

// namespaceToTenant maps a tenant namespace to its Tenant through the tenant label.
// exportJobToTenant wakes the Tenant whose export a Job runs, so its status follows the Job.
func exportJobToTenant(_ context.Context, obj client.Object) []reconcile.Request {
	l := obj.GetLabels()
	if l[labels.Component] != labels.ExportComponent || l[labels.Tenant] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: l[labels.Tenant]}}}
}

// storePurgeToTenant wakes the Tenant of an Integration that reports a store purge.
func storePurgeToTenant(_ context.Context, obj client.Object) []reconcile.Request {
	in, ok := obj.(*twv1.Integration)
	if !ok || in.Status.StorePurge == nil || !strings.HasPrefix(in.Namespace, twv1.TenantNamespacePrefix) {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: strings.TrimPrefix(in.Namespace, twv1.TenantNamespacePrefix)}}}
}

// tenantToOverlapping wakes the other Tenants whose secret store paths overlap a Tenant's. An
// update is mapped with the old and the new object alike, so a Tenant that moves away from a path
// also wakes the Tenants it no longer refuses.
func (r *Reconciler) tenantToOverlapping(ctx context.Context, obj client.Object) []reconcile.Request {
	t, ok := obj.(*twv1.Tenant)
	if !ok || t.Spec.SecretStore == nil {
		return nil
	}
	overlapping, err := secretpath.Overlapping(ctx, r.Client, t)
	if err != nil {
		log.FromContext(ctx).Error(err, "listing tenants for overlapping secret paths", "tenant", t.Name)
		return nil
	}
	var reqs []reconcile.Request
	for _, o := range overlapping {
		if o.Name != t.Name {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: o.Name}})
		}
	}
	return reqs
}

func namespaceToTenant(_ context.Context, obj client.Object) []reconcile.Request {
	if name := obj.GetLabels()[labels.Tenant]; name != "" {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: name}}}
	}
	return nil
}

// complete builds from the configuration above what every reconcile shares: the controller's one
// Applier, which remembers the children it verified, and its status writer. SetupWithManager calls
// it, and so does a test that reconciles without a manager: it is the one way to a working
// Reconciler.
func (r *Reconciler) complete() *Reconciler {
	r.apply = &apply.Applier{Client: r.Client, Reader: r.APIReader, Scheme: r.Scheme, Owner: labels.FieldOwner(ControllerName),
		Watched: r.Children}
	r.statusWriter = status.Writer{Client: r.Client, Recorder: r.Recorder, Coalescer: r.StatusCoalescer}
	return r
}

// Reconcile converges one Tenant through its lifecycle: while it is Active, Suspended or in its
// offboarding grace period the namespace and its isolation are kept in place; when the purge is
// due its keys are destroyed, then its namespace. Deleting a Tenant offboards it the same way.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	t := &twv1.Tenant{}
	if err := r.Client.Get(ctx, req.NamespacedName, t); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	deleting := !t.DeletionTimestamp.IsZero()
	if deleting && !controllerutil.ContainsFinalizer(t, Finalizer) {
		return ctrl.Result{}, nil
	}
	if !deleting && !controllerutil.ContainsFinalizer(t, Finalizer) {
		patch := client.MergeFromWithOptions(t.DeepCopy(), client.MergeFromWithOptimisticLock{})
		controllerutil.AddFinalizer(t, Finalizer)
		if err := r.Client.Patch(ctx, t, patch); err != nil {
			return ctrl.Result{}, err
		}
	}

	now := r.Clock.Now()
	lc := lifecycle.Decide(t, now)
	var obs observation
	var err error
	var secretPath *conditions.Problem
	if !lc.Purged {
		secretPath, err = r.observeSecretPath(ctx, t)
	}
	result := ctrl.Result{}
	switch {
	case lc.Purged:
	case lc.Purge && t.Status.Purge == nil:
		// The inventory is written before anything is destroyed, so the record survives a stop
		// between the destruction and the status write. The write wakes this Tenant again.
		var ierr error
		obs.purge, ierr = r.purgeInventory(ctx, t, metav1.NewTime(now))
		err = errors.Join(err, ierr)
		result.RequeueAfter = time.Second
	case lc.Purge:
		rec, waiting, perr := r.observeStorePurges(ctx, t, now)
		switch {
		case perr != nil:
			err = errors.Join(err, perr)
		case len(waiting) > 0 || !equality.Semantic.DeepEqual(rec, t.Status.Purge):
			// The stores' outcomes are recorded before the keyring goes, as the inventory is; an
			// Integration's status write wakes this Tenant, the requeue bounds the wait.
			obs.purge = rec
			result.RequeueAfter = time.Second
			if len(waiting) > 0 {
				obs.namespace = &conditions.Problem{Reason: twv1.ReasonPurging, Message: fmt.Sprintf(
					"Waiting for the purge Jobs of the PostgreSQL mapping stores of Integrations %v (at most %s) before the keyring is destroyed", waiting, storePurgeTimeout)}
				result.RequeueAfter = storePurgeTimeout / 30
			}
		default:
			if err = errors.Join(err, r.purge(ctx, t, t.Status.Purge)); err == nil {
				lc.Purge, lc.Purged = false, true
				obs.purge = t.Status.Purge.DeepCopy()
				completed := metav1.NewTime(now)
				obs.purge.CompletedAt = &completed
			} else {
				obs.namespace = &conditions.Problem{Reason: twv1.ReasonPurging, Message: err.Error()}
			}
		}
	default:
		var cerr error
		obs, cerr = r.reconcileChildren(ctx, t)
		err = errors.Join(err, cerr)
		if lc.WaitFor > 0 {
			result.RequeueAfter = wait.Jitter(lc.WaitFor, 0.001) + time.Second
		}
		var eerr error
		obs.export, eerr = r.observeExport(ctx, t, lc.Offboarding(), metav1.NewTime(now))
		obs.exportObserved = eerr == nil
		err = errors.Join(err, eerr)
		r.recordExportTransition(t, obs.export)
	}
	obs.secretPath = secretPath
	after, serr := r.writeStatus(ctx, t, computeStatus(t, obs, lc, metav1.NewTime(now)))
	err = errors.Join(err, serr)
	result = status.Sooner(result, after)
	if err == nil && lc.Purged && deleting {
		// Purged: nothing is left to protect, so the Tenant goes at once.
		patch := client.MergeFromWithOptions(t.DeepCopy(), client.MergeFromWithOptimisticLock{})
		controllerutil.RemoveFinalizer(t, Finalizer)
		err = r.Client.Patch(ctx, t, patch)
	}
	return result, err
}

// observeSecretPath refuses the tenant's key vault path when a Tenant created earlier uses the
// same store with an equal or nested prefix. The namespace and its isolation stay in place; the
// tenant's Integrations read the refusal (and decide the same from the cache) and build nothing.
// It is not returned as an error: a retry cannot fix it, and an error would drop the lifecycle's
// requeue. Any Tenant that changes its path wakes this one (tenantToOverlapping).
func (r *Reconciler) observeSecretPath(ctx context.Context, t *twv1.Tenant) (*conditions.Problem, error) {
	if t.Spec.SecretStore == nil {
		return nil, nil
	}
	tenants, err := secretpath.Overlapping(ctx, r.Client, t)
	if err != nil {
		return nil, err
	}
	return conditions.SecretPathProblem(t, tenants), nil
}

// purgeInventory reads what the purge is about to destroy: the keyring (around the cache, whole),
// the tenant's Integrations and the KeyPolicy of its keys.
func (r *Reconciler) purgeInventory(ctx context.Context, t *twv1.Tenant, now metav1.Time) (*twv1.TenantPurgeRecord, error) {
	var kr *keyring.Keyring
	secret := &corev1.Secret{}
	switch err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: t.NamespaceName(), Name: keyring.SecretName}, secret); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, err
	default:
		// An unreadable keyring is destroyed all the same; the record then names no versions.
		kr, _ = keyring.Parse(secret.Data[keyring.DataKey])
	}
	ins := &twv1.IntegrationList{}
	if err := r.Client.List(ctx, ins, client.InNamespace(t.NamespaceName())); err != nil {
		return nil, err
	}
	policies := &twv1.KeyPolicyList{}
	if err := r.Client.List(ctx, policies); err != nil {
		return nil, err
	}
	var policy *twv1.KeyPolicy
	if name := twv1.EffectiveKeyPolicy(t, policies.Items); name != "" {
		for i := range policies.Items {
			if policies.Items[i].Name == name {
				policy = &policies.Items[i]
			}
		}
	}
	return purgeInventory(t, kr, ins.Items, policy, now), nil
}

// observeStorePurges reads the tenant's Integrations from the cache and applies their store
// purges' outcomes to the purge record.
func (r *Reconciler) observeStorePurges(ctx context.Context, t *twv1.Tenant, now time.Time) (*twv1.TenantPurgeRecord, []string, error) {
	ins := &twv1.IntegrationList{}
	if err := r.Client.List(ctx, ins, client.InNamespace(t.NamespaceName())); err != nil {
		return nil, nil, err
	}
	rec, waiting := applyStorePurges(t.Status.Purge, ins.Items, now)
	return rec, waiting, nil
}

// observeExport reads the tenant's Integrations and export Jobs from the cache.
func (r *Reconciler) observeExport(ctx context.Context, t *twv1.Tenant, offboarding bool, now metav1.Time) (*twv1.TenantExportStatus, error) {
	if t.Spec.Export == nil {
		return nil, nil
	}
	ins := &twv1.IntegrationList{}
	if err := r.Client.List(ctx, ins, client.InNamespace(t.NamespaceName())); err != nil {
		return nil, err
	}
	jobs := &batchv1.JobList{}
	if err := r.Client.List(ctx, jobs, client.InNamespace(t.NamespaceName()),
		client.MatchingLabels{labels.Tenant: t.Name, labels.Component: labels.ExportComponent}); err != nil {
		return nil, err
	}
	return exportStatus(t, offboarding, ins.Items, jobs.Items, t.Status.Export, now), nil
}

// recordExportTransition emits one event when an export finishes, either way, and one Warning
// when a request in clear is first seen, so that an auditor finds it in the events as well as in
// status.export.encryption.
func (r *Reconciler) recordExportTransition(t *twv1.Tenant, st *twv1.TenantExportStatus) {
	if st == nil {
		return
	}
	prev := t.Status.Export
	if st.Encryption == twv1.ExportEncryptionNone && (prev == nil || prev.Request != st.Request || prev.Encryption != st.Encryption) {
		r.Recorder.Eventf(t, corev1.EventTypeWarning, "PlaintextExport",
			"Export %s is requested in clear (spec.export.plaintext: true): patients' identifiers will be written unencrypted to %s", st.Request, st.Location)
	}
	if st.Phase != twv1.ExportSucceeded && st.Phase != twv1.ExportFailed {
		return
	}
	if prev != nil && prev.Request == st.Request && prev.Phase == st.Phase {
		return
	}
	if st.Phase == twv1.ExportSucceeded {
		r.Recorder.Eventf(t, corev1.EventTypeNormal, "ExportSucceeded", "Export %s written to %s", st.Request, st.Location)
		return
	}
	r.Recorder.Eventf(t, corev1.EventTypeWarning, "ExportFailed", "Export %s: %s", st.Request, st.Message)
}

// reconcileChildren applies the namespace and, once it is Active, everything inside it.
func (r *Reconciler) reconcileChildren(ctx context.Context, t *twv1.Tenant) (observation, error) {
	if p, err := r.checkNamespaceOwner(ctx, t); p != nil || err != nil {
		return observation{namespace: p}, err
	}
	a := r.apply
	ns := desiredNamespace(t)
	if _, err := a.Apply(ctx, ns); err != nil {
		return observation{namespace: &conditions.Problem{Reason: twv1.ReasonApplyFailed, Message: err.Error()}}, err
	}
	if ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
		// Children cannot be created in a terminating namespace; its deletion event requeues us.
		return observation{namespace: &conditions.Problem{Reason: twv1.ReasonNamespaceTerminating,
			Message: fmt.Sprintf("Namespace %s is terminating; it is recreated once it is gone", ns.Name)}}, nil
	}

	var errs []error
	for _, child := range desiredChildren(t, r.DNS, r.MetricsScraper) {
		if _, err := a.Apply(ctx, child); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return observation{isolation: &conditions.Problem{Reason: twv1.ReasonApplyFailed, Message: err.Error()}}, err
	}
	return observation{}, nil
}

// checkNamespaceOwner refuses to adopt a namespace that exists but belongs to someone else: a
// server-side apply with force would otherwise take it over silently.
func (r *Reconciler) checkNamespaceOwner(ctx context.Context, t *twv1.Tenant) (*conditions.Problem, error) {
	key := client.ObjectKey{Name: t.NamespaceName()}
	ns := &corev1.Namespace{}
	err := r.Client.Get(ctx, key, ns)
	if apierrors.IsNotFound(err) {
		// The cache holds only namespaces with our label; look at the API for any other.
		err = r.APIReader.Get(ctx, key, ns)
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, err
	case labels.IsTenantNamespace(ns, t.Name):
		return nil, nil
	}
	msg := fmt.Sprintf("Namespace %s already exists and does not belong to this Tenant; delete it or choose another Tenant name", ns.Name)
	r.Recorder.Event(t, corev1.EventTypeWarning, twv1.ReasonNamespaceConflict, msg)
	return &conditions.Problem{Reason: twv1.ReasonNamespaceConflict, Message: msg, Stalled: true},
		reconcile.TerminalError(errors.New(msg))
}

var tenantStatus = status.Kind[twv1.TenantStatus]{
	Name:               "Tenant",
	Conditions:         func(s *twv1.TenantStatus) []metav1.Condition { return s.Conditions },
	ObservedGeneration: func(s *twv1.TenantStatus) int64 { return s.ObservedGeneration },
	ReadyMessage:       "Tenant namespace and isolation are in place",
	// recordExportTransition compares with the written export: until it is written, every
	// reconcile would record the export's outcome again.
	// The purge record is written before the purge acts on it, so it is never deferred either.
	Urgent: func(cur, next *twv1.TenantStatus) bool {
		return exportPhase(cur.Export) != exportPhase(next.Export) || !equality.Semantic.DeepEqual(cur.Purge, next.Purge)
	},
}

// exportPhase identifies an export's progress: its request, phase and encryption (the plaintext
// Warning compares with the written encryption).
func exportPhase(e *twv1.TenantExportStatus) [3]string {
	if e == nil {
		return [3]string{}
	}
	return [3]string{e.Request, string(e.Phase), string(e.Encryption)}
}

// writeStatus makes at most one status write, and none when nothing changed; it returns when to
// reconcile again to write a deferred step of progress.
func (r *Reconciler) writeStatus(ctx context.Context, t *twv1.Tenant, st twv1.TenantStatus) (time.Duration, error) {
	return status.Write(ctx, r.statusWriter, t, tenantStatus, &t.Status, st)
}

// purge is the single place a tenant's data is destroyed. The keyring goes first: once it is
// gone, every encrypted patient-ID mapping is unreadable wherever a copy of it survives
// (crypto-shredding). Only when the API server confirms that does the namespace go. Both steps read
// the API server first, so repeating a purge (from a stale cache) deletes and reports nothing twice.
func (r *Reconciler) purge(ctx context.Context, t *twv1.Tenant, rec *twv1.TenantPurgeRecord) error {
	key := client.ObjectKey{Namespace: t.NamespaceName(), Name: keyring.SecretName}
	secretMeta := func() *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}}
	}
	switch err := r.APIReader.Get(ctx, key, secretMeta()); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return err
	default:
		if err := r.Client.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("destroying the keyring: %w", err)
		}
		if err := r.APIReader.Get(ctx, key, secretMeta()); !apierrors.IsNotFound(err) {
			return fmt.Errorf("keyring %s is not confirmed gone (%v); the namespace is kept until it is", key, err)
		}
		r.Recorder.Eventf(t, corev1.EventTypeNormal, "KeysDestroyed", "Keyring of tenant %s destroyed (%s): its encrypted patient-ID mappings can no longer be decrypted",
			t.Name, destroyedKeysMessage(rec))
	}

	ns := &corev1.Namespace{}
	switch err := r.APIReader.Get(ctx, client.ObjectKey{Name: t.NamespaceName()}, ns); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return err
	case labels.IsTenantNamespace(ns, t.Name) && ns.DeletionTimestamp.IsZero():
		// The admission policy refuses to delete a tenant namespace without this label.
		if _, err := r.apply.Apply(ctx, desiredPurgedNamespace(t)); err != nil {
			return fmt.Errorf("marking namespace %s purged: %w", ns.Name, err)
		}
		if err := r.Client.Delete(ctx, ns); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting namespace %s: %w", ns.Name, err)
		}
		log.FromContext(ctx).Info("tenant purged", "namespace", ns.Name, "keyringVersions", len(rec.KeyringVersions),
			"integrations", len(rec.Integrations), "remaining", len(rec.Remaining))
		r.Recorder.Eventf(t, corev1.EventTypeNormal, twv1.ReasonPurged, "Tenant data purged: %s; namespace %s deleted with Integrations %v",
			destroyedKeysMessage(rec), ns.Name, rec.Integrations)
		result := metrics.PurgeComplete
		if len(rec.Remaining) > 0 {
			result = metrics.PurgeManualStepsRemain
			r.Recorder.Event(t, corev1.EventTypeWarning, twv1.TenantConditionManualPurgeRequired, remainingMessage(rec))
		}
		metrics.TenantPurges.WithLabelValues(result).Inc()
	}
	return nil
}
