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
	"strings"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/apply"
	"github.com/tenantwire/tenantwire/internal/childcache"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/externalsecrets"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/lifecycle"
	"github.com/tenantwire/tenantwire/internal/metrics"
	"github.com/tenantwire/tenantwire/internal/status"
)

// ControllerName names the tenant-keyed keyring controller, the field owner and the event source.
const ControllerName = "keypolicy"

// Reconciler converges tenants' keyrings and reports each in its Tenant's status.keyring
// (Reconcile, one request per Tenant), and computes each KeyPolicy's status from those reports
// (reconcileStatus, one request per KeyPolicy). It keeps no state between the two.
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
	// Children watches the child kinds no controller reads (childcache.WatchedKinds): here the
	// keyring reader Role and RoleBinding.
	Children *childcache.Watches
	// Informers starts the cache's ExternalSecret informer once a policy sources keys from a
	// vault: the External Secrets Operator's CRD may come after the manager.
	Informers cache.Informers

	// apply and statusWriter are built once, by complete. The status writer coalesces nothing
	// (writeStatus says why).
	apply        *apply.Applier
	statusWriter status.Writer
	// holdOff, set by tests only, keeps this reconciler away from a tenant while the envtest suite's
	// second reconciler counts what one reconcile of it writes.
	holdOff func(tenant string) bool
}

// +kubebuilder:rbac:groups=tenantwire.io,resources=keypolicies,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=tenantwire.io,resources=keypolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=tenantwire.io,resources=tenants;integrations,verbs=get;list;watch
// +kubebuilder:rbac:groups=tenantwire.io,resources=tenants,verbs=patch
// +kubebuilder:rbac:groups=tenantwire.io,resources=tenants/status,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=create;patch,resourceNames=tenantwire-keyring
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=external-secrets.io,resources=externalsecrets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// complete builds from the configuration above what every reconcile shares: the controller's one
// Applier, which remembers the children it verified, and its status writer. SetupWithManager calls
// it, and so does a test that reconciles without a manager: it is the one way to a working
// Reconciler.
func (r *Reconciler) complete() *Reconciler {
	r.apply = &apply.Applier{Client: r.Client, Reader: r.APIReader, Scheme: r.Scheme, Owner: labels.FieldOwner(ControllerName),
		Watched: r.Children}
	r.statusWriter = status.Writer{Client: r.Client, Recorder: r.Recorder}
	return r
}

// Reconcile converges one tenant's keyring under its effective policy, reports it in the Tenant's
// status.keyring (from which the policy's status is computed) and requeues for the tenant's next
// rotation (or sooner, for a held-back binding).
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if r.holdOff != nil && r.holdOff(req.Name) {
		return ctrl.Result{RequeueAfter: 100 * time.Millisecond}, nil
	}
	now := r.Clock.Now()
	kp, t, err := r.governingPolicy(ctx, req.Name, now)
	if err != nil || kp == nil {
		// Not covered (gone, purged or no policy): the policy's status no longer counts it, and its
		// status.keyring keeps describing the keyring it had.
		return ctrl.Result{}, err
	}
	if !namespaceReady(t) {
		// Nothing to write yet, not even a report: the policy's status reads the Tenant's own
		// NamespaceReady, and the Tenant's status change that makes it True wakes this tenant.
		return ctrl.Result{}, nil
	}
	onDemand := rotationRequested(kp, t)
	res, result, err := r.reconcileTenant(ctx, kp, t, onDemand, now)
	if err != nil && res.problem == nil {
		// A transient error: the last report stands until a reconcile finds out more.
		return result, err
	}
	report := keyringReport(kp, t, res, onDemand, err == nil)
	if heldBack(kp, t, report) {
		return result, err
	}
	return result, errors.Join(err, r.writeReport(ctx, t, report))
}

// governingPolicy returns the tenant and the policy that governs its keys, or a nil policy when
// none does: no such tenant, no policy, a policy being deleted, or a tenant whose purge is due or
// done (its keys are being destroyed, never recreated).
func (r *Reconciler) governingPolicy(ctx context.Context, name string, now time.Time) (*twv1.KeyPolicy, *twv1.Tenant, error) {
	t := &twv1.Tenant{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: name}, t); err != nil {
		return nil, nil, client.IgnoreNotFound(err)
	}
	if lifecycle.KeysDisposable(t, now) {
		return nil, t, nil
	}
	// Read-only and without a deep copy: this runs for every tenant.
	policies := &twv1.KeyPolicyList{}
	if err := r.Client.List(ctx, policies, client.UnsafeDisableDeepCopy); err != nil {
		return nil, nil, err
	}
	effective := twv1.EffectiveKeyPolicy(t, policies.Items)
	for i := range policies.Items {
		if kp := &policies.Items[i]; kp.Name == effective && kp.DeletionTimestamp.IsZero() {
			return kp.DeepCopy(), t, nil
		}
	}
	return nil, t, nil
}

// reconcileTenant brings one tenant's keyring and its access rules in line with the policy, and
// says when to come back: for the next rotation, or for a reader binding held back while new
// consumers settle.
func (r *Reconciler) reconcileTenant(ctx context.Context, kp *twv1.KeyPolicy, t *twv1.Tenant, onDemand bool, now time.Time) (tenantResult, ctrl.Result, error) {
	var res tenantResult
	var current *keyring.Keyring
	// read is the resourceVersion current was read at ("" for none): the keyring write replaces
	// that version or creates the first, never keys it has not read.
	var read string
	live := &corev1.Secret{}
	key := client.ObjectKey{Namespace: t.NamespaceName(), Name: keyring.SecretName}
	err := r.Client.Get(ctx, key, live)
	if _, had := recordOf(t); had && apierrors.IsNotFound(err) {
		// A tenant that had a keyring: the API server, not a cache that may not yet hold a keyring
		// just restored or created, says whether it is gone.
		err = r.APIReader.Get(ctx, key, live)
	}
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return res, ctrl.Result{}, err
	default:
		kr, err := keyring.Parse(live.Data[keyring.DataKey])
		if err != nil {
			// Never overwrite a keyring we cannot read: it may be the only copy of keys in use.
			res.problem = &conditions.Problem{Reason: twv1.ReasonKeyringInvalid, Message: err.Error(), Stalled: true}
			return res, ctrl.Result{}, nil
		}
		current, read = kr, live.ResourceVersion
	}
	loss := decideLoss(t, current)
	if loss.problem != nil {
		if !reported(t, loss.problem) {
			r.Recorder.Eventf(kp, corev1.EventTypeWarning, twv1.ReasonKeyringLost, "%s", loss.problem.Message)
		}
		res.problem = loss.problem
		res.keyring = current
		return res, ctrl.Result{}, nil
	}

	algorithm := string(kp.Spec.Algorithm)
	addVersion := func(m keyring.Material) *keyring.Keyring {
		if current == nil && loss.acknowledged {
			return keyring.StartAfter(loss.lost.version, algorithm, m, now)
		}
		return keyring.AddVersion(current, algorithm, m, now)
	}
	var next time.Time
	desired := current
	rotated := false
	if kp.Spec.Source.Type == twv1.KeySourceExternal {
		m, p, err := r.externalMaterial(ctx, kp, t)
		if err != nil || p != nil {
			res.problem = p
			res.keyring = current
			return res, ctrl.Result{}, err
		}
		if current == nil || !m.Equal(activeMaterial(current)) {
			desired, rotated = addVersion(m), true
		}
	} else {
		due, nextDue := keyring.RotationDue(current, kp.RotationPeriod(), now, onDemand)
		if due && current != nil {
			// The cache may not yet hold the last rotation or its report: confirm both against
			// the API server, so that one request or one due date never rotates twice.
			var err error
			if current, read, err = r.liveKeyring(ctx, t); err != nil {
				return res, ctrl.Result{}, err
			}
			if onDemand {
				if onDemand, err = r.liveRotationRequested(ctx, kp, t); err != nil {
					return res, ctrl.Result{}, err
				}
			}
			due, nextDue = keyring.RotationDue(current, kp.RotationPeriod(), now, onDemand)
			desired = current
		}
		next = nextDue
		if due {
			m, err := keyring.NewMaterial(r.Random)
			if err != nil {
				return res, ctrl.Result{}, err
			}
			desired, rotated = addVersion(m), true
		}
	}

	consumers, err := r.consumers(ctx, kp, t)
	if err != nil {
		if errors.Is(err, reconcile.TerminalError(nil)) {
			res.problem = &conditions.Problem{Reason: twv1.ReasonInvalidConsumers, Message: err.Error(), Stalled: true}
			res.keyring = current
		}
		return res, ctrl.Result{}, err
	}
	desired = retained(kp, desired, consumers, &res)
	secret, err := desiredKeyringSecret(t, kp, desired)
	if err != nil {
		return res, ctrl.Result{}, err
	}
	a := r.apply
	if _, err := a.Apply(ctx, secret, apply.Replacing(read)); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			// Someone wrote the keyring since it was read (a cache behind the API server, or a
			// second operator during a leader hand-over): a transient error, whose retry reads it.
			return res, ctrl.Result{}, fmt.Errorf("keyring of tenant %s changed since it was read; not overwritten: %w", t.Name, err)
		}
		res.problem = &conditions.Problem{Reason: twv1.ReasonApplyFailed, Message: err.Error()}
		return res, ctrl.Result{}, err
	}
	res.rotated = rotated
	// The Role is applied whether or not the binding is held back.
	children := []client.Object{desiredReaderRole(t, kp)}
	binding, holdBinding, err := r.readerBinding(ctx, t, kp, consumers, now)
	if err != nil {
		return res, ctrl.Result{}, err
	}
	if binding != nil {
		children = append(children, binding)
	}
	if holdBinding > 0 {
		// Not converged until they are bound: a policy is Ready only once every consumer can read.
		res.problem = &conditions.Problem{Reason: twv1.ReasonConsumersSettling,
			Message: "new consumer Integrations are bound to the keyring once they have settled"}
	}
	for _, obj := range children {
		if _, err := a.Apply(ctx, obj); err != nil {
			res.problem = &conditions.Problem{Reason: twv1.ReasonApplyFailed, Message: err.Error()}
			return res, ctrl.Result{}, err
		}
	}
	if err := r.writeRecord(ctx, t, desired); err != nil {
		return res, ctrl.Result{}, err
	}
	if loss.acknowledged {
		r.Recorder.Eventf(kp, corev1.EventTypeWarning, "KeyringLossAcknowledged",
			"Tenant %s: loss of keyring version %d (fingerprint %s) acknowledged; data sealed under it is unreadable. The keyring is now at version %d (fingerprint %s)",
			t.Name, loss.lost.version, loss.lost.fingerprint, desired.Active, desired.ActiveVersion().Fingerprint())
	}
	if rotated {
		metrics.KeyRotations.WithLabelValues(t.Name).Inc()
		r.Recorder.Eventf(kp, corev1.EventTypeNormal, "Rotated", "Tenant %s keyring rotated to version %d", t.Name, desired.Active)
	}
	res.keyring, res.next = desired, next
	result := ctrl.Result{}
	if !next.IsZero() {
		// Wake up when the rotation is due; the jitter spreads tenants created together.
		result.RequeueAfter = wait.Jitter(max(next.Sub(now), time.Second), 0.01)
	}
	if holdBinding > 0 {
		// Jittered upwards only: a wake-up before the settle ends would hold the binding again.
		result = status.Sooner(result, wait.Jitter(holdBinding, 0.1))
	}
	return res, result, nil
}

// retained applies the trim guard: versions beyond retention are dropped only once every consumer
// reports in its status that it has rewrapped onto the active version (trim.go).
func retained(kp *twv1.KeyPolicy, kr *keyring.Keyring, consumers []twv1.Integration, res *tenantResult) *keyring.Keyring {
	if !beyondRetention(kp, kr) {
		return kr
	}
	d := decideTrim(kr, int(kp.Spec.Rotation.RetainVersions), consumers)
	res.held, res.lagging = d.held, d.lagging
	return d.keyring
}

// beyondRetention reports whether a keyring holds more versions than the policy retains.
func beyondRetention(kp *twv1.KeyPolicy, kr *keyring.Keyring) bool {
	return len(kr.Versions) > int(kp.Spec.Rotation.RetainVersions)+1
}

// liveKeyring reads the keyring from the API server, bypassing the cache.
func (r *Reconciler) liveKeyring(ctx context.Context, t *twv1.Tenant) (*keyring.Keyring, string, error) {
	live := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: t.NamespaceName(), Name: keyring.SecretName}, live); err != nil {
		return nil, "", err
	}
	kr, err := keyring.Parse(live.Data[keyring.DataKey])
	return kr, live.ResourceVersion, err
}

func activeMaterial(k *keyring.Keyring) keyring.Material {
	v := k.ActiveVersion()
	return keyring.Material{EncryptionKey: v.EncryptionKey, HMACKey: v.HMACKey}
}

// consumers lists the Integrations of the tenant whose pods may read the keyring.
func (r *Reconciler) consumers(ctx context.Context, kp *twv1.KeyPolicy, t *twv1.Tenant) ([]twv1.Integration, error) {
	// A selector that does not parse is the user's to fix, whether or not the tenant has
	// Integrations yet.
	if _, err := kp.ConsumerSelector(); err != nil {
		return nil, reconcile.TerminalError(err)
	}
	list := &twv1.IntegrationList{}
	if err := r.Client.List(ctx, list, client.InNamespace(t.NamespaceName())); err != nil {
		return nil, err
	}
	out := list.Items[:0]
	for i := range list.Items {
		if consumer, _ := kp.ConsumesKeyring(&list.Items[i]); consumer {
			out = append(out, list.Items[i])
		}
	}
	return out, nil
}

func consumerNames(consumers []twv1.Integration) []string {
	names := make([]string, 0, len(consumers))
	for _, in := range consumers {
		names = append(names, in.Name)
	}
	return names
}

// externalMaterial applies the tenant's key-source ExternalSecret and reads the synced keys.
func (r *Reconciler) externalMaterial(ctx context.Context, kp *twv1.KeyPolicy, t *twv1.Tenant) (keyring.Material, *conditions.Problem, error) {
	notInstalled := &conditions.Problem{Reason: twv1.ReasonKeySourceUnavailable, Message: "External Secrets Operator is not installed"}
	switch installed, err := externalsecrets.Installed(r.Client.RESTMapper()); {
	case err != nil:
		return keyring.Material{}, nil, err
	case !installed:
		return keyring.Material{}, notInstalled, nil
	}
	if r.Informers != nil {
		if _, err := r.Informers.GetInformer(ctx, &esv1.ExternalSecret{}); err != nil {
			return keyring.Material{}, nil, err
		}
	}
	if _, err := r.apply.Apply(ctx, desiredKeySource(t, kp)); err != nil {
		// Removed since it was looked up: the apply finds no such resource.
		if apierrors.IsNotFound(err) || externalsecrets.IsNotInstalled(err) {
			return keyring.Material{}, notInstalled, nil
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
