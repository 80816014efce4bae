package integration

import (
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/apply"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/metrics"
)

// reconcileChildren converges the Integration's children in ordered phases: find its tenant and
// approval, refuse what cannot be built (the validation chain, then what the cluster lacks), apply
// the children with the credentials first, and roll the workload onto the credentials once they
// are there. Each phase adds to the observation that the status is computed from.
func (r *Reconciler) reconcileChildren(ctx context.Context, in *twv1.Integration) (observation, ctrl.Result, error) {
	obs := observation{}
	tenant, blocked, err := r.resolve(ctx, in, &obs)
	if err != nil {
		return obs, ctrl.Result{}, err
	}
	if blocked == nil && tenant.EffectiveState() == twv1.TenantOffboarding {
		return obs, ctrl.Result{}, r.offboard(ctx, in, tenant, &obs)
	}
	result := ctrl.Result{}
	if blocked == nil {
		blocked = validateSpec(specInput{in: in, tenant: tenant, rules: r.specRules(), now: r.Clock.Now()})
	}
	if blocked == nil {
		if blocked, result, err = r.checkCluster(ctx, in); err != nil {
			return obs, result, err
		}
	}
	if blocked != nil {
		obs.blocked = blocked
		return obs, result, r.stopBlocked(ctx, in, blocked)
	}

	ip, err := r.gatherInputs(ctx, in, tenant, &obs)
	if err != nil {
		return obs, result, err
	}
	cm, err := r.applyChildren(ctx, in, ip, &obs)
	if err != nil {
		return obs, result, err
	}
	creds, secrets, err := r.observeCredentials(ctx, in)
	if err != nil {
		return obs, result, err
	}
	obs.credentials = creds
	if in.Spec.State == twv1.StateStopped {
		_, err := r.deleteDeployment(ctx, in)
		return obs, result, err
	}
	return obs, result, r.rollOut(ctx, in, ip, cm, secrets, &obs)
}

// resolve finds the Integration's Tenant and decides its approval; the problem it returns (no
// tenant namespace, no Tenant, a vault path another Tenant claims) keeps it from being built.
func (r *Reconciler) resolve(ctx context.Context, in *twv1.Integration, obs *observation) (*twv1.Tenant, *conditions.Problem, error) {
	tenant, blocked, err := r.resolveTenant(ctx, in)
	if err != nil {
		return nil, nil, err
	}
	if obs.approval, err = r.decideApprovalFor(ctx, in, tenant); err != nil {
		return nil, nil, err
	}
	if tenant != nil {
		obs.tenant = tenant.Name
		if blocked, err = r.checkSecretPath(ctx, tenant); err != nil {
			return nil, nil, err
		}
	}
	return tenant, blocked, nil
}

// offboard stops the workload of an offboarding tenant and removes its credentials from the
// cluster; the export still runs, and once the Tenant's purge record is written, the purge of a
// PostgreSQL mapping store.
func (r *Reconciler) offboard(ctx context.Context, in *twv1.Integration, tenant *twv1.Tenant, obs *observation) error {
	obs.storePurge = in.Status.StorePurge
	obs.blocked = &conditions.Problem{Reason: twv1.ReasonTenantOffboarding,
		Message: fmt.Sprintf("Tenant %s is offboarding: the sync workload is stopped and its credentials are removed", tenant.Name)}
	if _, err := r.deleteDeployment(ctx, in); err != nil {
		return err
	}
	// The store's password stays: the export reads the mapping until the purge.
	if err := r.removeCredentials(ctx, in, vendorSides...); err != nil {
		return err
	}
	// The rotated tokens are credentials too; the vault keeps the last one pushed.
	if err := r.removeTokenWriter(ctx, in); err != nil {
		return err
	}
	if err := r.reconcileExport(ctx, in, tenant); err != nil {
		return err
	}
	var err error
	obs.storePurge, err = r.reconcileStorePurge(ctx, in, tenant)
	return err
}

// checkCluster refuses what the cluster lacks rather than the spec: External Secrets Operator (and its
// PushSecret CRD where tokens are written back), or
// a state claim that is not ours. Neither sends us an event when it is fixed, so both look again
// later.
func (r *Reconciler) checkCluster(ctx context.Context, in *twv1.Integration) (*conditions.Problem, ctrl.Result, error) {
	watching, err := r.ensureExternalSecretWatch()
	if err != nil {
		return nil, ctrl.Result{}, err
	}
	recheck := ctrl.Result{RequeueAfter: wait.Jitter(esoRecheck, 0.2)}
	if !watching {
		return &conditions.Problem{Reason: twv1.ReasonExternalSecretsMissing,
			Message: "The ExternalSecret CRD (external-secrets.io/v1) is not installed; install External Secrets Operator"}, recheck, nil
	}
	blocked, err := r.pushSecretProblem(in)
	if err != nil {
		return nil, ctrl.Result{}, err
	}
	if blocked != nil {
		return blocked, recheck, nil
	}
	blocked, err = r.checkStateClaim(ctx, in)
	if err != nil || blocked == nil {
		return nil, ctrl.Result{}, err
	}
	return blocked, recheck, nil
}

// stopBlocked takes down what runs on a configuration we refuse, so nothing half-built keeps
// running; a refused spec (Stalled) is a terminal error.
func (r *Reconciler) stopBlocked(ctx context.Context, in *twv1.Integration, blocked *conditions.Problem) error {
	deleted, err := r.deleteDeployment(ctx, in)
	if deleted {
		r.Recorder.Eventf(in, corev1.EventTypeWarning, blocked.Reason, "Stopped the sync workload: %s", blocked.Message)
	}
	if err == nil {
		err = r.dismantle(ctx, in, blocked)
	}
	if blocked.Stalled && err == nil {
		err = reconcile.TerminalError(errors.New(blocked.Message))
	}
	return err
}

// gatherInputs reads what the children are built from besides the Integration: the tenant's
// keyring version and state, and the approval.
func (r *Reconciler) gatherInputs(ctx context.Context, in *twv1.Integration, tenant *twv1.Tenant, obs *observation) (inputs, error) {
	keyringVersion, keyringPending, err := r.keyringVersion(ctx, in, tenant)
	if err != nil {
		return inputs{}, err
	}
	obs.keyringPending = keyringPending
	obs.fields = statusFields(in)
	// The Tenant carries the KeyPolicy controller's record of the keyring it had: that, not the
	// keyring controller's state, tells a lost keyring from one not created yet.
	_, _, hadKeyring := tenant.KeyringRecord()
	obs.keyringLost = keyringPending && hadKeyring
	suspended := tenant.EffectiveState() == twv1.TenantSuspended
	obs.tenantSuspended = suspended
	return inputs{tenant: tenant, syncImage: r.SyncImage, pullSecrets: r.SyncImagePullSecrets, keyringVersion: keyringVersion,
		tenantSuspended: suspended, awaitingApproval: obs.approval.held(), hosts: r.hostPolicy(), operator: r.Operator,
		apiServer: r.APIServer}, nil
}

// applyChildren applies every child but the Deployment, in the order they are needed, and returns
// the sync configuration the Deployment mounts. An apply that fails is reported as the
// credentials' problem, since nothing can sync without them.
func (r *Reconciler) applyChildren(ctx context.Context, in *twv1.Integration, ip inputs, obs *observation) (*corev1.ConfigMap, error) {
	cm, err := desiredConfigMap(in, ip)
	if err != nil {
		return nil, err
	}
	var errs []error
	// The ExternalSecrets go first: syncing credentials from the vault is the slowest step of an
	// Integration coming up, and nothing else here needs to exist before it starts.
	for _, s := range credentialSides(in) {
		if _, err := r.apply.Apply(ctx, desiredExternalSecret(in, ip, s)); err != nil {
			errs = append(errs, err)
		}
	}
	children := []client.Object{desiredServiceAccount(in, ip), desiredReaderRole(in, ip), desiredReaderRoleBinding(in, ip),
		desiredEgressPolicy(in, ip)}
	if len(rotatingSides(in)) > 0 {
		children = append(children, tokenWriterChildren(in, ip)...)
	} else {
		// A side that no longer rotates tokens leaves no write-back channel behind.
		errs = append(errs, r.removeTokenWriter(ctx, in))
	}
	if ownsStateClaim(in) {
		children = append(children, desiredStateClaim(in, ip))
	}
	if !obs.keyringPending {
		// The sync config names the keyring file; written before the keyring exists it would be
		// written again when it arrives. Nothing reads it before the Deployment, which waits too.
		children = append(children, cm)
	}
	for _, child := range children {
		if _, err := r.apply.Apply(ctx, child); err != nil {
			errs = append(errs, err)
		}
	}
	if postgresStore(in) == nil {
		// A store that moved off PostgreSQL leaves no password behind.
		errs = append(errs, r.removeCredentials(ctx, in, storeSide))
	}
	if err := errors.Join(errs...); err != nil {
		obs.credentials = &conditions.Problem{Reason: twv1.ReasonApplyFailed, Message: err.Error()}
		return nil, err
	}
	return cm, nil
}

// rollOut applies the sync Deployment once its credentials (and keyring) are there, with the
// credentials hash that rolls its pods when they change.
func (r *Reconciler) rollOut(ctx context.Context, in *twv1.Integration, ip inputs, cm *corev1.ConfigMap, secrets []*corev1.Secret,
	obs *observation) error {
	live := &appsv1.Deployment{}
	switch err := r.Client.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: syncName(in)}, live); {
	case apierrors.IsNotFound(err):
		live = nil
	case err != nil:
		return err
	}
	obs.deployment = live
	if secrets == nil || obs.keyringPending {
		// Credentials (or the keyring of a consumer) are not there yet: start nothing, and leave a
		// running workload on what it has rather than roll it onto something missing. Waiting for
		// the keyring also saves every new workload a second rollout when it arrives.
		if live != nil {
			obs.credentialsHash = live.Spec.Template.Annotations[CredentialsHashAnnotation]
		}
		return nil
	}

	ip.credentialsHash = credentialsHash(secrets...)
	var previous, previousKeys string
	if live != nil {
		previous = live.Spec.Template.Annotations[CredentialsHashAnnotation]
		previousKeys = live.Spec.Template.Annotations[KeyringVersionAnnotation]
	}
	if previous != "" && previous != ip.credentialsHash {
		carried, err := r.carriesCredentials(ctx, client.ObjectKeyFromObject(in), secrets, previous, ip.credentialsHash)
		if err != nil {
			return err
		}
		if carried {
			ip.credentialsHash = previous
		}
	}
	desired := desiredDeployment(in, ip, cm)
	res, err := r.apply.Apply(ctx, desired)
	if err != nil {
		return err
	}
	obs.workloadApplied = res == apply.Applied
	r.announceRollout(in, previous, previousKeys, ip)
	obs.deployment, obs.credentialsHash = desired, ip.credentialsHash
	return nil
}

// announceRollout counts and announces a rollout of the sync pods onto new credentials or a new
// keyring version.
func (r *Reconciler) announceRollout(in *twv1.Integration, previous, previousKeys string, ip inputs) {
	if previous != "" && previous != ip.credentialsHash {
		metrics.WorkloadRollouts.WithLabelValues("credentials").Inc()
		r.Recorder.Event(in, corev1.EventTypeNormal, "CredentialsRotated", "Credentials changed in the key vault; rolling the sync pods")
	}
	if previousKeys != "" && ip.keyringVersion != "" && previousKeys != ip.keyringVersion {
		metrics.WorkloadRollouts.WithLabelValues("keys").Inc()
		r.Recorder.Eventf(in, corev1.EventTypeNormal, "KeysRotated", "Keyring version %s is active; rolling the sync pods", ip.keyringVersion)
	}
}
