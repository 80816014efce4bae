// Package keypolicy reconciles KeyPolicies: for every tenant a policy covers, a versioned keyring
// Secret in the tenant namespace that rotates on schedule or on demand, keeps only the versions
// it must, and is readable by nothing but the sync pods of consumer Integrations.
package keypolicy

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/apply"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/lifecycle"
	"github.com/tenantwire/tenantwire/internal/metrics"
	"github.com/tenantwire/tenantwire/internal/status"
)

// ControllerName names the controller, its field owner and its event source.
const ControllerName = "keypolicy"

// Reconciler reconciles KeyPolicy objects.
type Reconciler struct {
	Client client.Client
	// APIReader confirms a rotation against the API server: a cache that has not yet seen our last
	// rotation must never cause a second one.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  record.EventRecorder
	// Clock decides rotations; tests inject a fake one.
	Clock clock.PassiveClock
	// Random is the source of generated key material; nil means crypto/rand.
	Random io.Reader

	// handledRequests remembers the resourceVersion at which each policy's rotate-now annotation
	// was acted on, so a cached copy that still shows it does not rotate twice.
	handledRequests sync.Map
}

// +kubebuilder:rbac:groups=tenantwire.io,resources=keypolicies,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=tenantwire.io,resources=keypolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=tenantwire.io,resources=tenants;integrations,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=create;patch,resourceNames=tenantwire-keyring
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=external-secrets.io,resources=externalsecrets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// SetupWithManager registers the controller. Keyring children are owned by their Tenant, so they
// are mapped back to the policy through the tenantwire.io/keypolicy label.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	byPolicyLabel := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
		if name := obj.GetLabels()[labels.KeyPolicy]; name != "" {
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: name}}}
		}
		return nil
	})
	return ctrl.NewControllerManagedBy(mgr).
		For(&twv1.KeyPolicy{}).
		Watches(&corev1.Secret{}, byPolicyLabel).
		Watches(&rbacv1.Role{}, byPolicyLabel).
		Watches(&rbacv1.RoleBinding{}, byPolicyLabel).
		Watches(&twv1.Tenant{}, handler.EnqueueRequestsFromMapFunc(r.tenantToPolicy)).
		Watches(&twv1.Integration{}, handler.EnqueueRequestsFromMapFunc(r.integrationToPolicy)).
		WithOptions(opts).
		Named(ControllerName).
		Complete(r)
}

// tenantToPolicy wakes the policy a Tenant uses, and, when the Tenant names none, the default one.
func (r *Reconciler) tenantToPolicy(ctx context.Context, obj client.Object) []reconcile.Request {
	t, ok := obj.(*twv1.Tenant)
	if !ok {
		return nil
	}
	policies := &twv1.KeyPolicyList{}
	if err := r.Client.List(ctx, policies); err != nil {
		log.FromContext(ctx).Error(err, "listing key policies")
		return nil
	}
	reqs := []reconcile.Request{}
	if name := twv1.EffectiveKeyPolicy(t, policies.Items); name != "" {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: name}})
	}
	// A policy the tenant just left must drop it from its status too.
	for _, p := range policies.Items {
		for _, ts := range p.Status.Tenants {
			if ts.Tenant == t.Name && (len(reqs) == 0 || reqs[0].Name != p.Name) {
				reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: p.Name}})
			}
		}
	}
	return reqs
}

// integrationToPolicy wakes the policy of an Integration's tenant: the set of consumers may change.
func (r *Reconciler) integrationToPolicy(ctx context.Context, obj client.Object) []reconcile.Request {
	name, ok := strings.CutPrefix(obj.GetNamespace(), twv1.TenantNamespacePrefix)
	if !ok {
		return nil
	}
	t := &twv1.Tenant{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: name}, t); err != nil {
		return nil
	}
	return r.tenantToPolicy(ctx, t)
}

func (r *Reconciler) applier() *apply.Applier {
	return &apply.Applier{Client: r.Client, Scheme: r.Scheme, Owner: labels.FieldOwner(ControllerName)}
}

// Reconcile converges the keyrings of every tenant the policy covers and requeues for the next
// rotation due among them.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	kp := &twv1.KeyPolicy{}
	if err := r.Client.Get(ctx, req.NamespacedName, kp); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !kp.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	tenants, err := r.coveredTenants(ctx, kp, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	rotateNow, requested := rotationRequest(kp)
	if rv, ok := r.handledRequests.Load(kp.Name); requested && ok && rv == kp.ResourceVersion {
		rotateNow = func(string) bool { return false }
	}

	var results []tenantResult
	var next time.Time
	var errs []error
	for i := range tenants {
		t := &tenants[i]
		res, tenantNext, err := r.reconcileTenant(ctx, kp, t, requested && rotateNow(t.Name), now)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", t.Name, err))
		}
		results = append(results, res)
		if !tenantNext.IsZero() && (next.IsZero() || tenantNext.Before(next)) {
			next = tenantNext
		}
	}
	if requested {
		r.handledRequests.Store(kp.Name, kp.ResourceVersion)
		errs = append(errs, r.clearRotationRequest(ctx, kp))
	}
	errs = append(errs, r.writeStatus(ctx, kp, computeStatus(kp, results, metav1.NewTime(now))))

	result := ctrl.Result{}
	if !next.IsZero() {
		// Wake up when the earliest rotation is due; the jitter spreads policies that share a period.
		result.RequeueAfter = wait.Jitter(max(next.Sub(now), time.Second), 0.01)
	}
	return result, errors.Join(errs...)
}

// coveredTenants lists the tenants whose effective policy is kp, in name order. A tenant whose
// purge is due or done is no longer covered: its keys are being destroyed, never recreated.
func (r *Reconciler) coveredTenants(ctx context.Context, kp *twv1.KeyPolicy, now time.Time) ([]twv1.Tenant, error) {
	policies := &twv1.KeyPolicyList{}
	if err := r.Client.List(ctx, policies); err != nil {
		return nil, err
	}
	tenants := &twv1.TenantList{}
	if err := r.Client.List(ctx, tenants); err != nil {
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

// rotationRequest reads the rotate-now annotation: which tenants it asks for, and whether it is set.
func rotationRequest(kp *twv1.KeyPolicy) (func(tenant string) bool, bool) {
	v, ok := kp.Annotations[twv1.RotateNowAnnotation]
	if !ok {
		return func(string) bool { return false }, false
	}
	v = strings.TrimSpace(v)
	if v == "" || v == "*" || v == "true" {
		return func(string) bool { return true }, true
	}
	names := strings.Split(v, ",")
	for i := range names {
		names[i] = strings.TrimSpace(names[i])
	}
	return func(t string) bool { return slices.Contains(names, t) }, true
}

// clearRotationRequest records the request as an event and removes the annotation.
func (r *Reconciler) clearRotationRequest(ctx context.Context, kp *twv1.KeyPolicy) error {
	r.Recorder.Eventf(kp, corev1.EventTypeNormal, "RotationRequested", "On-demand rotation requested for %q", kp.Annotations[twv1.RotateNowAnnotation])
	patch := client.MergeFrom(kp.DeepCopy())
	delete(kp.Annotations, twv1.RotateNowAnnotation)
	return r.Client.Patch(ctx, kp, patch)
}

// reconcileTenant brings one tenant's keyring and its access rules in line with the policy.
func (r *Reconciler) reconcileTenant(ctx context.Context, kp *twv1.KeyPolicy, t *twv1.Tenant, onDemand bool, now time.Time) (tenantResult, time.Time, error) {
	res := tenantResult{status: twv1.TenantKeyStatus{Tenant: t.Name}}
	if !conditions.IsTrue(t.Status.Conditions, twv1.TenantConditionNamespaceReady) {
		res.problem = &conditions.Problem{Reason: twv1.ReasonTenantNotReady, Message: "waiting for the tenant namespace"}
		return res, time.Time{}, nil
	}
	a := r.applier()
	var current *keyring.Keyring
	live := &corev1.Secret{}
	switch err := r.Client.Get(ctx, client.ObjectKey{Namespace: t.NamespaceName(), Name: keyring.SecretName}, live); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return res, time.Time{}, err
	default:
		kr, err := keyring.Parse(live.Data[keyring.DataKey])
		if err != nil {
			// Never overwrite a keyring we cannot read: it may be the only copy of keys in use.
			res.problem = &conditions.Problem{Reason: "KeyringInvalid", Message: err.Error(), Stalled: true}
			return res, time.Time{}, nil
		}
		current = kr
	}

	retain := int(kp.Spec.Rotation.RetainVersions)
	algorithm := string(kp.Spec.Algorithm)
	var next time.Time
	desired := current
	rotated := false
	if kp.Spec.Source.Type == twv1.KeySourceExternal {
		m, p, err := r.externalMaterial(ctx, kp, t)
		if err != nil || p != nil {
			res.problem = p
			fillStatus(&res.status, current, time.Time{})
			return res, time.Time{}, err
		}
		if current == nil || !m.Equal(activeMaterial(current)) {
			desired, rotated = keyring.Rotate(current, algorithm, m, now, retain), true
		}
	} else {
		due, nextDue := keyring.RotationDue(current, kp.RotationPeriod(), now, onDemand)
		if due && current != nil {
			var err error
			if current, err = r.liveKeyring(ctx, t); err != nil {
				return res, time.Time{}, err
			}
			due, nextDue = keyring.RotationDue(current, kp.RotationPeriod(), now, onDemand)
			desired = current
		}
		next = nextDue
		if due {
			m, err := keyring.NewMaterial(r.Random)
			if err != nil {
				return res, time.Time{}, err
			}
			desired, rotated = keyring.Rotate(current, algorithm, m, now, retain), true
		}
	}
	desired = keyring.Trim(desired, retain)

	secret, err := desiredKeyringSecret(t, kp, desired)
	if err != nil {
		return res, time.Time{}, err
	}
	consumers, err := r.consumers(ctx, kp, t)
	if err != nil {
		return res, time.Time{}, err
	}
	for _, obj := range []client.Object{secret, desiredReaderRole(t, kp), desiredReaderBinding(t, kp, consumers)} {
		if _, err := a.Apply(ctx, obj); err != nil {
			res.problem = &conditions.Problem{Reason: twv1.ReasonApplyFailed, Message: err.Error()}
			return res, time.Time{}, err
		}
	}
	if rotated {
		metrics.KeyRotations.WithLabelValues(t.Name).Inc()
		r.Recorder.Eventf(kp, corev1.EventTypeNormal, "Rotated", "Tenant %s keyring rotated to version %d", t.Name, desired.Active)
	}
	active := desired.ActiveVersion()
	metrics.KeyAge.WithLabelValues(t.Name).Set(now.Sub(active.Created).Seconds())
	if !next.IsZero() {
		metrics.NextRotation.WithLabelValues(t.Name).Set(float64(next.Unix()))
	}
	fillStatus(&res.status, desired, next)
	return res, next, nil
}

// liveKeyring reads the keyring from the API server, bypassing the cache.
func (r *Reconciler) liveKeyring(ctx context.Context, t *twv1.Tenant) (*keyring.Keyring, error) {
	live := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: t.NamespaceName(), Name: keyring.SecretName}, live); err != nil {
		return nil, err
	}
	return keyring.Parse(live.Data[keyring.DataKey])
}

func fillStatus(st *twv1.TenantKeyStatus, kr *keyring.Keyring, next time.Time) {
	if kr == nil {
		return
	}
	st.ActiveVersion = kr.Active
	st.Versions = kr.VersionNumbers()
	last := metav1.NewTime(kr.ActiveVersion().Created)
	st.LastRotation = &last
	if !next.IsZero() {
		n := metav1.NewTime(next.UTC().Truncate(time.Second))
		st.NextRotation = &n
	}
}

func activeMaterial(k *keyring.Keyring) keyring.Material {
	v := k.ActiveVersion()
	return keyring.Material{EncryptionKey: v.EncryptionKey, HMACKey: v.HMACKey}
}

// consumers names the Integrations of the tenant whose pods may read the keyring.
func (r *Reconciler) consumers(ctx context.Context, kp *twv1.KeyPolicy, t *twv1.Tenant) ([]string, error) {
	sel := k8slabels.Everything()
	if kp.Spec.Consumers != nil {
		s, err := metav1.LabelSelectorAsSelector(kp.Spec.Consumers)
		if err != nil {
			return nil, reconcile.TerminalError(fmt.Errorf("spec.consumers: %w", err))
		}
		sel = s
	}
	list := &twv1.IntegrationList{}
	if err := r.Client.List(ctx, list, client.InNamespace(t.NamespaceName()), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(list.Items))
	for _, in := range list.Items {
		if in.DeletionTimestamp.IsZero() {
			names = append(names, in.Name)
		}
	}
	return names, nil
}

// externalMaterial applies the tenant's key-source ExternalSecret and reads the synced keys.
func (r *Reconciler) externalMaterial(ctx context.Context, kp *twv1.KeyPolicy, t *twv1.Tenant) (keyring.Material, *conditions.Problem, error) {
	if _, err := r.applier().Apply(ctx, desiredKeySource(t, kp)); err != nil {
		if apierrors.IsNotFound(err) || strings.Contains(err.Error(), "no matches for kind") {
			return keyring.Material{}, &conditions.Problem{Reason: twv1.ReasonKeySourceUnavailable,
				Message: "External Secrets Operator is not installed"}, nil
		}
		return keyring.Material{}, nil, err
	}
	src := &corev1.Secret{}
	switch err := r.Client.Get(ctx, client.ObjectKey{Namespace: t.NamespaceName(), Name: KeySourceName}, src); {
	case apierrors.IsNotFound(err):
		return keyring.Material{}, &conditions.Problem{Reason: twv1.ReasonKeySourceUnavailable,
			Message: "waiting for External Secrets Operator to sync the key source"}, nil
	case err != nil:
		return keyring.Material{}, nil, err
	}
	decode := func(field string) ([]byte, error) {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(src.Data[field])))
		if err != nil || len(b) != keyring.KeySize {
			return nil, fmt.Errorf("key source field %s must be %d base64-encoded bytes", field, keyring.KeySize)
		}
		return b, nil
	}
	enc, err1 := decode("encryptionKey")
	mac, err2 := decode("hmacKey")
	if err := errors.Join(err1, err2); err != nil {
		return keyring.Material{}, &conditions.Problem{Reason: twv1.ReasonKeySourceUnavailable, Message: err.Error(), Stalled: true}, nil
	}
	return keyring.Material{EncryptionKey: enc, HMACKey: mac}, nil, nil
}

// writeStatus makes at most one status write, and none when nothing changed.
func (r *Reconciler) writeStatus(ctx context.Context, kp *twv1.KeyPolicy, st twv1.KeyPolicyStatus) error {
	return status.Write(ctx, r.Client, r.Recorder, kp, "KeyPolicy", &kp.Status, st,
		func(s *twv1.KeyPolicyStatus) []metav1.Condition { return s.Conditions }, "Keyrings of all covered tenants are current")
}
