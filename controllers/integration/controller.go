// Package integration reconciles Integrations: per-tenant sync workloads whose credentials come
// from the key vault through External Secrets Operator and whose egress is limited to the
// networks they declare.
package integration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	esv1alpha1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/apply"
	"github.com/tenantwire/tenantwire/internal/childcache"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/externalsecrets"
	"github.com/tenantwire/tenantwire/internal/hostpolicy"
	"github.com/tenantwire/tenantwire/internal/imagepolicy"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/secretpath"
	"github.com/tenantwire/tenantwire/internal/status"
)

// ControllerName names the controller, its field owner and its event source.
const ControllerName = "integration"

// esoRecheck is how often an Integration re-checks for the ExternalSecret CRD while it is missing.
const esoRecheck = 5 * time.Minute

// Reconciler reconciles Integration objects.
type Reconciler struct {
	// Client reads from the manager's cache (children filtered to our labels) and writes to the API.
	Client client.Client
	// APIReader reads uncached: children the cache holds slimmed are compared whole from here.
	APIReader  client.Reader
	Scheme     *runtime.Scheme
	RESTMapper meta.RESTMapper
	Recorder   record.EventRecorder
	Clock      clock.PassiveClock
	// SyncImage runs the sync workloads unless an Integration names its own image.
	SyncImage string
	// SyncImagePullSecrets name the image pull Secrets every sync and export pod uses; the
	// platform provides them in each tenant namespace.
	SyncImagePullSecrets []string
	// AllowedImages are the only repositories (besides SyncImage) an Integration's image may come
	// from: tenant admins edit Integrations, and an arbitrary image would run with the tenant's
	// credentials.
	AllowedImages imagepolicy.AllowList
	// HostPolicy is the platform's allowlist of vendor hosts, PostgreSQL hosts and egress
	// networks; nil is hostpolicy.Default (the vendors' documented hosts, nothing else).
	HostPolicy *hostpolicy.Policy
	// BAACovered are the destination systems the platform has a business associate agreement for,
	// the only ones protected health information may flow to; the zero value covers none.
	BAACovered BAACoverage
	// StatusCoalescer defers status writes that only report further progress; nil writes every
	// change at once.
	StatusCoalescer *status.Coalescer
	// Children watches the child kinds no controller reads (childcache.WatchedKinds).
	Children *childcache.Watches
	// RequireApproval keeps every Integration at zero replicas until an approver of its Tenant
	// approves its flow (--require-approval). Without it, only Tenants that name approvers require
	// approval.
	RequireApproval bool
	// Cycles reads the running sync pods' summaries of their last cycle into status.lastCycle and
	// SyncHealthy; nil reads none.
	Cycles CycleReader
	// Operator is where the operator's pods run, admitted to the sync pods' health port to read
	// the summary; the zero value admits nobody.
	Operator OperatorPeer
	// APIServer is where the sync pods of an Integration whose vendor rotates refresh tokens reach
	// the API server to write them back (--api-server-egress); none reach it without it.
	APIServer []APIServerEndpoint

	controller controller.Controller
	cache      cache.Cache
	esWatchMu  sync.Mutex
	esWatching bool
	// pushWatching says PushSecrets (external-secrets.io/v1alpha1) are served and watched.
	pushWatching bool

	// apply and statusWriter are built once, by complete.
	apply        *apply.Applier
	statusWriter status.Writer
	// carriedHashes holds a carriedHash by Integration key, for pod templates that carry the
	// credentials hash in its older form.
	carriedHashes sync.Map
	// announced holds, by Integration key and topic (approval, sync health), the state last
	// announced with an event, so that a reconcile reading a status older than its own last
	// write does not announce it twice (announceOnce).
	announced sync.Map
	// cycleReads holds, by Integration key, the cycleRead of its last summary read: the summary
	// is read once per poll interval, not on every reconcile.
	cycleReads sync.Map
}

// +kubebuilder:rbac:groups=tenantwire.io,resources=integrations,verbs=get;list;watch
// +kubebuilder:rbac:groups=tenantwire.io,resources=integrations/status,verbs=get;update;patch
// Every child's owner reference sets blockOwnerDeletion, which clusters running the
// OwnerReferencesPermissionEnforcement admission plugin allow only to who may update the owner's
// finalizers.
// +kubebuilder:rbac:groups=tenantwire.io,resources=integrations/finalizers,verbs=update
// +kubebuilder:rbac:groups=tenantwire.io,resources=tenants;keypolicies;integrationapprovals,verbs=get;list;watch
// +kubebuilder:rbac:groups=external-secrets.io,resources=externalsecrets;pushsecrets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=configmaps;serviceaccounts;persistentvolumeclaims,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// The rotated-token Secrets (and the Roles that let a token writer patch one) need create, patch
// and delete on Secrets of any name; the admission policy tenantwire-operator-reach confines
// them to Secrets named *-rotated-token in tenant namespaces that carry no data of the operator's.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=create;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// SetupWithManager registers the controller. The ExternalSecret watch is added now if ESO's CRDs
// are installed, or later by the first reconcile that finds them, so a missing ESO is a condition
// on each Integration rather than a crash of the manager.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	r.complete()
	// An Integration learns its tenant from its namespace, and whether it consumes a keyring from
	// the KeyPolicies.
	if err := childcache.ReadsFromCache(mgr.GetCache(), &corev1.Namespace{}, &twv1.KeyPolicy{}); err != nil {
		return err
	}
	// Whether a tenant's key vault path is its own is read through an index of the paths.
	if err := secretpath.Register(context.Background(), mgr.GetFieldIndexer()); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&twv1.Integration{}, builder.WithPredicates(integrationChanged)).
		Owns(&appsv1.Deployment{}).
		Owns(&batchv1.Job{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.secretToIntegrations)).
		Watches(&twv1.Tenant{}, handler.EnqueueRequestsFromMapFunc(r.tenantToIntegrations), builder.WithPredicates(tenantChanged)).
		Watches(&twv1.IntegrationApproval{}, handler.EnqueueRequestsFromMapFunc(approvalToIntegration))
	owned, err := r.Children.OwnedBy(&twv1.Integration{}, &corev1.ConfigMap{}, &corev1.ServiceAccount{}, &rbacv1.Role{},
		&rbacv1.RoleBinding{}, &networkingv1.NetworkPolicy{}, &corev1.PersistentVolumeClaim{})
	if err != nil {
		return err
	}
	for _, src := range owned {
		b = b.WatchesRawSource(src)
	}
	c, err := b.WithOptions(opts).Named(ControllerName).Build(r)
	if err != nil {
		return err
	}
	r.controller, r.cache = c, mgr.GetCache()
	_, err = r.ensureExternalSecretWatch()
	return err
}

// ensureExternalSecretWatch starts watching ExternalSecrets once their CRD exists.
func (r *Reconciler) ensureExternalSecretWatch() (bool, error) {
	r.esWatchMu.Lock()
	defer r.esWatchMu.Unlock()
	if r.esWatching {
		return true, nil
	}
	if installed, err := externalsecrets.Installed(r.RESTMapper); err != nil || !installed {
		return false, err
	}
	if r.controller != nil {
		src := source.Kind(r.cache, &esv1.ExternalSecret{},
			handler.TypedEnqueueRequestForOwner[*esv1.ExternalSecret](r.Scheme, r.RESTMapper, &twv1.Integration{}, handler.OnlyControllerOwner()),
			externalSecretChanged)
		if err := r.controller.Watch(src); err != nil {
			return false, err
		}
	}
	r.esWatching = true
	return true, nil
}

// ensurePushSecretWatch starts watching PushSecrets when their CRD is served; the caller holds
// esWatchMu. An ESO without them is a condition on the Integrations that need one
// (pushSecretProblem), not on every Integration, and only those look for the CRD again.
func (r *Reconciler) ensurePushSecretWatch() error {
	if r.pushWatching {
		return nil
	}
	gvk := esv1alpha1.SchemeGroupVersion.WithKind(esv1alpha1.PushSecretKind)
	switch _, err := r.RESTMapper.RESTMapping(gvk.GroupKind(), gvk.Version); {
	case externalsecrets.IsNotInstalled(err):
		return nil
	case err != nil:
		return err
	}
	if r.controller != nil {
		src := source.Kind(r.cache, &esv1alpha1.PushSecret{},
			handler.TypedEnqueueRequestForOwner[*esv1alpha1.PushSecret](r.Scheme, r.RESTMapper, &twv1.Integration{}, handler.OnlyControllerOwner()))
		if err := r.controller.Watch(src); err != nil {
			return err
		}
	}
	r.pushWatching = true
	return nil
}

// pushSecretProblem refuses an Integration with a rotating side while PushSecrets are not served:
// without one, a rotated token would never reach the vault.
func (r *Reconciler) pushSecretProblem(in *twv1.Integration) (*conditions.Problem, error) {
	if len(rotatingSides(in)) == 0 {
		return nil, nil
	}
	r.esWatchMu.Lock()
	defer r.esWatchMu.Unlock()
	if err := r.ensurePushSecretWatch(); err != nil || r.pushWatching {
		return nil, err
	}
	return &conditions.Problem{Reason: twv1.ReasonExternalSecretsMissing,
		Message: "The PushSecret CRD (external-secrets.io/v1alpha1) is not installed; " + string(endpointOf(in, rotatingSides(in)[0]).System) +
			" rotates refresh tokens, which only a PushSecret writes back to the vault; install External Secrets Operator with PushSecrets"}, nil
}

// secretToIntegrations maps a credential Secret (labelled through the ExternalSecret template) to
// its Integration, and the tenant keyring to every Integration of the tenant, so a synced or
// rotated credential or key is seen at once.
func (r *Reconciler) secretToIntegrations(ctx context.Context, obj client.Object) []reconcile.Request {
	if name := obj.GetLabels()[labels.Integration]; name != "" {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: obj.GetNamespace(), Name: name}}}
	}
	if obj.GetName() != keyring.SecretName {
		return nil
	}
	list := &twv1.IntegrationList{}
	if err := r.Client.List(ctx, list, client.InNamespace(obj.GetNamespace())); err != nil {
		log.FromContext(ctx).Error(err, "listing integrations for keyring", "namespace", obj.GetNamespace())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, in := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&in)})
	}
	return reqs
}

// tenantToIntegrations wakes every Integration of a Tenant when the Tenant changes (store, prefix,
// networking) or appears.
func (r *Reconciler) tenantToIntegrations(ctx context.Context, obj client.Object) []reconcile.Request {
	list := &twv1.IntegrationList{}
	if err := r.Client.List(ctx, list, client.InNamespace(twv1.TenantNamespacePrefix+obj.GetName())); err != nil {
		log.FromContext(ctx).Error(err, "listing integrations of tenant", "tenant", obj.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, in := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&in)})
	}
	return reqs
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

// Reconcile converges one Integration. Children are garbage-collected through owner references,
// so deletion needs no finalizer.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	in := &twv1.Integration{}
	if err := r.Client.Get(ctx, req.NamespacedName, in); err != nil {
		if apierrors.IsNotFound(err) {
			r.carriedHashes.Delete(req.NamespacedName)
			r.cycleReads.Delete(req.NamespacedName)
			for _, topic := range announcementTopics {
				r.announced.Delete(announcement{key: req.NamespacedName, topic: topic})
			}
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !in.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}

	obs, result, err := r.reconcileChildren(ctx, in)
	if obs.approval.digest != "" {
		r.announceApproval(in, obs.approval)
	}
	if err == nil {
		result = status.Sooner(result, r.observeCycle(ctx, in, &obs))
	}
	st := computeStatus(in, obs, metav1.NewTime(r.Clock.Now()))
	r.announceSyncHealth(in, st.Conditions)
	after, serr := r.writeStatus(ctx, in, st, obs.workloadApplied)
	return status.Sooner(result, after), errors.Join(err, serr)
}

// keyringVersion returns the active keyring version when the Integration is a consumer of its
// tenant's KeyPolicy, and pending when it is one but the keyring does not exist yet, or is older
// than the one the KeyPolicy controller recorded on the Tenant. It reads only the keyring Secret's
// annotations, never its data.
func (r *Reconciler) keyringVersion(ctx context.Context, in *twv1.Integration, t *twv1.Tenant) (version string, pending bool, err error) {
	// Read-only and without a deep copy: a policy's status lists every tenant it covers, so copying
	// it on every Integration reconcile would grow with tenants times Integrations.
	policies := &twv1.KeyPolicyList{}
	if err := r.Client.List(ctx, policies, client.UnsafeDisableDeepCopy); err != nil {
		return "", false, err
	}
	name := twv1.EffectiveKeyPolicy(t, policies.Items)
	idx := slices.IndexFunc(policies.Items, func(p twv1.KeyPolicy) bool { return p.Name == name })
	if idx < 0 {
		return "", false, nil
	}
	if consumer, err := policies.Items[idx].ConsumesKeyring(in); err != nil || !consumer {
		// A selector that does not parse makes no consumer; the KeyPolicy reports it.
		return "", false, nil
	}
	secret := &corev1.Secret{}
	switch err := r.Client.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: keyring.SecretName}, secret); {
	case apierrors.IsNotFound(err):
		return "", true, nil
	case err != nil:
		return "", false, err
	}
	active := secret.Annotations[keyring.ActiveVersionAnnotation]
	if olderThanRecorded(t, active) {
		// Not the keyring the tenant had (an old backup, a hand-made Secret): the KeyPolicy reports
		// KeyringLost, and rolling the workload onto it would seal new data under the wrong keys.
		return "", true, nil
	}
	return active, false, nil
}

// olderThanRecorded reports whether a keyring Secret's active version is older than the version
// the KeyPolicy controller recorded on the Tenant, or unreadable while there is a record. The
// keyring is written before the record, so a rotation's keyring is never older than the record.
// Only the version is compared: the cache keeps no other annotation of the keyring.
func olderThanRecorded(t *twv1.Tenant, active string) bool {
	recorded, _, ok := t.KeyringRecord()
	if !ok {
		return false
	}
	v, err := strconv.ParseInt(active, 10, 32)
	return err != nil || v < int64(recorded)
}

// resolveTenant finds the Tenant whose own namespace holds the Integration. The namespace's name
// says which Tenant; its labels only confirm that tenantwire made it for that Tenant. Labels alone
// prove nothing: whoever may label a namespace could copy them onto one without Pod Security or
// default-deny, and receive that tenant's credentials there.
func (r *Reconciler) resolveTenant(ctx context.Context, in *twv1.Integration) (*twv1.Tenant, *conditions.Problem, error) {
	ns := &corev1.Namespace{}
	switch err := r.Client.Get(ctx, client.ObjectKey{Name: in.Namespace}, ns); {
	case apierrors.IsNotFound(err):
		// The cache holds only namespaces labelled as tenantwire's.
		ns = nil
	case err != nil:
		return nil, nil, err
	}
	name, named := twv1.TenantOfNamespace(in.Namespace)
	switch {
	case !named && (ns == nil || ns.Labels[labels.Tenant] == ""):
		return nil, &conditions.Problem{Reason: twv1.ReasonNotInTenantNamespace, Stalled: true,
			Message: fmt.Sprintf("Namespace %s is not a tenant namespace; create Integrations in tenant-<tenant>", in.Namespace)}, nil
	case !named:
		claimed := ns.Labels[labels.Tenant]
		return nil, &conditions.Problem{Reason: twv1.ReasonNamespaceNotOwned, Stalled: true,
			Message: fmt.Sprintf("Namespace %s carries the labels of Tenant %s but is not its namespace %s%s; nothing is built here",
				in.Namespace, claimed, twv1.TenantNamespacePrefix, claimed)}, nil
	case ns == nil || !labels.IsTenantNamespace(ns, name):
		return nil, &conditions.Problem{Reason: twv1.ReasonNamespaceNotOwned, Stalled: true,
			Message: fmt.Sprintf("Namespace %s was not created by tenantwire for Tenant %s (labels %s=%s and %s=%s); nothing is built here",
				in.Namespace, name, labels.ManagedBy, labels.ManagedByValue, labels.Tenant, name)}, nil
	}
	t := &twv1.Tenant{}
	switch err := r.Client.Get(ctx, client.ObjectKey{Name: name}, t); {
	case apierrors.IsNotFound(err):
		return nil, &conditions.Problem{Reason: twv1.ReasonTenantNotFound, Message: fmt.Sprintf("Tenant %s does not exist", name)}, nil
	case err != nil:
		return nil, nil, err
	}
	return t, nil, nil
}

// checkSecretPath refuses a tenant whose key vault path an earlier Tenant claims. It decides from
// the cached Tenants, as the Tenant controller does for the Tenant's SecretPathReady, rather than
// reading that condition: so no ExternalSecret is created in the moment before it is written.
func (r *Reconciler) checkSecretPath(ctx context.Context, t *twv1.Tenant) (*conditions.Problem, error) {
	if t.Spec.SecretStore == nil {
		return nil, nil
	}
	// Through the cache's index of paths: only the tenants whose paths overlap, read in place.
	tenants, err := secretpath.Overlapping(ctx, r.Client, t)
	if err != nil {
		return nil, err
	}
	return conditions.SecretPathProblem(t, tenants), nil
}

// observeCredentials mirrors the ExternalSecrets' Ready conditions and returns both credential
// Secrets once they exist (nil until then).
func (r *Reconciler) observeCredentials(ctx context.Context, in *twv1.Integration) (*conditions.Problem, []*corev1.Secret, error) {
	var secrets []*corev1.Secret
	var prob *conditions.Problem
	for _, s := range credentialSides(in) {
		key := client.ObjectKey{Namespace: in.Namespace, Name: credentialsName(in, s)}
		es := &esv1.ExternalSecret{}
		if err := r.Client.Get(ctx, key, es); client.IgnoreNotFound(err) != nil {
			return nil, nil, err
		}
		if p := externalSecretProblem(es, s); p != nil && prob == nil {
			prob = p
		}
		secret := &corev1.Secret{}
		switch err := r.Client.Get(ctx, key, secret); {
		case apierrors.IsNotFound(err):
			if prob == nil {
				prob = &conditions.Problem{Reason: twv1.ReasonCredentialsPending, Message: fmt.Sprintf("Waiting for Secret %s", key.Name)}
			}
			secret = nil
		case err != nil:
			return nil, nil, err
		}
		secrets = append(secrets, secret)
	}
	for _, s := range secrets {
		if s == nil {
			return prob, nil, nil
		}
	}
	return prob, secrets, nil
}

// externalSecretProblem reads ESO's Ready condition; its reason and message carry no secret data.
func externalSecretProblem(es *esv1.ExternalSecret, s side) *conditions.Problem {
	c := readyCondition(es)
	switch {
	case c == nil:
		return &conditions.Problem{Reason: twv1.ReasonCredentialsPending, Message: fmt.Sprintf("%s credentials: waiting for External Secrets Operator to sync", s)}
	case c.Status == corev1.ConditionTrue:
		return nil
	}
	reason := twv1.ReasonCredentialsPending
	if c.Reason == esv1.ConditionReasonSecretSyncedError {
		reason = twv1.ReasonCredentialsSyncFailed
	}
	return &conditions.Problem{Reason: reason, Message: fmt.Sprintf("%s credentials: %s: %s", s, c.Reason, c.Message)}
}

// removeCredentials deletes the ExternalSecrets of the given sides that still exist; the Secrets
// they own go with them. It reads the cache first so that a steady state sends no deletes.
func (r *Reconciler) removeCredentials(ctx context.Context, in *twv1.Integration, sides ...side) error {
	if watching, err := r.ensureExternalSecretWatch(); err != nil || !watching {
		return err
	}
	for _, s := range sides {
		es := &esv1.ExternalSecret{}
		err := r.Client.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: credentialsName(in, s)}, es)
		if apierrors.IsNotFound(err) || (err == nil && (!metav1.IsControlledBy(es, in) || !es.DeletionTimestamp.IsZero())) {
			continue
		}
		if err != nil {
			return err
		}
		if err := r.Client.Delete(ctx, es); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	return nil
}

// allSides are every credential an Integration may have synced, whatever its spec says now.
var allSides = []side{sourceSide, destinationSide, storeSide}

// dismantle takes apart what a refused Integration may have built before it was refused, beyond
// its Deployment. In a namespace that is not its tenant's, that is everything: the credentials
// and the objects that would let a workload there use them. On a key vault path another Tenant
// claims, it is the credentials. Each child is looked up in the cache or the child watch first,
// so an Integration that stays refused sends nothing.
func (r *Reconciler) dismantle(ctx context.Context, in *twv1.Integration, blocked *conditions.Problem) error {
	switch blocked.Reason {
	case twv1.ReasonSecretStorePathOverlap:
		return r.removeCredentials(ctx, in, allSides...)
	case twv1.ReasonNamespaceNotOwned:
	default:
		return nil
	}
	if err := r.removeCredentials(ctx, in, allSides...); err != nil {
		return err
	}
	if err := r.removeTokenWriter(ctx, in); err != nil {
		return err
	}
	job := &batchv1.Job{}
	switch err := r.Client.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: labels.ExportJobName(in.Name)}, job); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return err
	case metav1.IsControlledBy(job, in) && job.DeletionTimestamp.IsZero():
		if err := r.Client.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	om := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: in.Namespace, Name: name} }
	var errs []error
	for _, obj := range []client.Object{
		&corev1.ConfigMap{ObjectMeta: om(configName(in))},
		&networkingv1.NetworkPolicy{ObjectMeta: om(egressPolicyName(in))},
		&rbacv1.RoleBinding{ObjectMeta: om(readerRoleName(in))},
		&rbacv1.Role{ObjectMeta: om(readerRoleName(in))},
		&corev1.ServiceAccount{ObjectMeta: om(syncName(in))},
		&corev1.PersistentVolumeClaim{ObjectMeta: om(stateClaimName(in))},
	} {
		errs = append(errs, r.deleteWatchedChild(ctx, in, obj))
	}
	return errors.Join(errs...)
}

// deleteWatchedChild deletes obj (a kind held by the child watch, not the cache) if it exists and
// in controls it. The watch says whether it exists; only then is it read from the API server.
func (r *Reconciler) deleteWatchedChild(ctx context.Context, in *twv1.Integration, obj client.Object) error {
	gvk, err := apiutil.GVKForObject(obj, r.Scheme)
	if err != nil {
		return err
	}
	key := client.ObjectKeyFromObject(obj)
	if r.Children.Watched(gvk) {
		_, exists, err := r.Children.Stamp(gvk, key)
		if err != nil || !exists {
			return err
		}
	}
	switch err := r.APIReader.Get(ctx, key, obj); {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	case !metav1.IsControlledBy(obj, in) || !obj.GetDeletionTimestamp().IsZero():
		return nil
	}
	return client.IgnoreNotFound(r.Client.Delete(ctx, obj, client.Preconditions{UID: ptr.To(obj.GetUID())}))
}

// deleteDeployment removes the sync Deployment if it exists; it reports whether it did.
func (r *Reconciler) deleteDeployment(ctx context.Context, in *twv1.Integration) (bool, error) {
	d := &appsv1.Deployment{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: syncName(in)}, d)
	if apierrors.IsNotFound(err) || (err == nil && !metav1.IsControlledBy(d, in)) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !d.DeletionTimestamp.IsZero() {
		return false, nil
	}
	if err := r.Client.Delete(ctx, d, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
		return false, err
	}
	return true, nil
}

var integrationStatus = status.Kind[twv1.IntegrationStatus]{
	Name:               "Integration",
	Conditions:         func(s *twv1.IntegrationStatus) []metav1.Condition { return s.Conditions },
	ObservedGeneration: func(s *twv1.IntegrationStatus) int64 { return s.ObservedGeneration },
	ReadyMessage:       "Credentials are synced and the sync workload is available",
	// A change of the honoured approval was announced with an event, which every reconcile would
	// announce again until the status shows it.
	Urgent: func(cur, next *twv1.IntegrationStatus) bool {
		// The Tenant controller waits for the store purge's outcome before destroying the keyring.
		return !equality.Semantic.DeepEqual(cur.Approval, next.Approval) || !equality.Semantic.DeepEqual(cur.StorePurge, next.StorePurge)
	},
}

// writeStatus makes at most one status write, and none when nothing changed; it returns when to
// reconcile again to write a deferred step of progress. A reconcile that has just applied the
// Deployment does not write the progress it would show: the Deployment controller has not seen it
// yet. When the queue had held an Integration's events for 10 s or more, that status was written in
// the very reconcile that created the Deployment, and was out of date a second later.
func (r *Reconciler) writeStatus(ctx context.Context, in *twv1.Integration, st twv1.IntegrationStatus, workloadApplied bool) (time.Duration, error) {
	if workloadApplied {
		return status.WriteAfterStep(ctx, r.statusWriter, in, integrationStatus, &in.Status, st)
	}
	return status.Write(ctx, r.statusWriter, in, integrationStatus, &in.Status, st)
}
