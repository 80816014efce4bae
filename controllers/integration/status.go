package integration

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/cyclereport"
)

// observation is what one reconcile found out; computeStatus turns it into a status.
type observation struct {
	tenant string
	// blocked: the Integration cannot be built at all (no tenant, no store, no ESO); nothing runs.
	blocked *conditions.Problem
	// credentials: nil once both ExternalSecrets are Ready and their Secrets exist.
	credentials *conditions.Problem
	// credentialsHash is the digest the Deployment's pod template carries.
	credentialsHash string
	// deployment is the live sync Deployment, nil when there is none.
	deployment *appsv1.Deployment
	// workloadApplied: this reconcile wrote the Deployment.
	workloadApplied bool
	// tenantSuspended: the tenant is Suspended, so the workload runs at zero replicas.
	tenantSuspended bool
	// approval: whether the current flow may run; its digest is empty when it was not decided.
	approval approvalDecision
	// keyringPending: the Integration consumes its tenant's keyring, which does not exist yet.
	keyringPending bool
	// keyringLost: the keyring is missing although the tenant had one (the KeyPolicy controller's
	// record on the Tenant says so); it waits for a restore or an acknowledged loss.
	keyringLost bool
	// fields are the effective fields the sync configuration carries; nil while refused.
	fields []twv1.PatientField
	// cycle is the running sync pod's summary of its last cycle, nil when none was read.
	cycle *cyclereport.Summary
	// storePurge is the purge of the PostgreSQL mapping store while the Tenant is purged; nil
	// when none is due.
	storePurge *twv1.IntegrationStorePurge
}

// computeStatus is a pure function of the Integration, what the reconcile observed and the time.
func computeStatus(in *twv1.Integration, obs observation, now metav1.Time) twv1.IntegrationStatus {
	st := *in.Status.DeepCopy()
	gen := in.Generation
	st.ObservedGeneration = gen
	st.Tenant = obs.tenant
	st.Fields = obs.fields
	st.StorePurge = obs.storePurge
	if obs.credentialsHash != "" {
		st.CredentialsHash = obs.credentialsHash
	}
	approval := obs.approval
	if approval.digest != "" {
		st.FlowDigest, st.Approval = approval.digest, approval.honoured
		switch {
		case !approval.required:
			conditions.Remove(&st.Conditions, twv1.IntegrationConditionApproved)
		case approval.honoured != nil:
			a := approval.honoured
			conditions.True(&st.Conditions, gen, twv1.IntegrationConditionApproved, twv1.ReasonApproved,
				fmt.Sprintf("Flow %s approved by %s (IntegrationApproval %s)", a.FlowDigest, a.ApprovedBy, a.Name), now)
		default:
			conditions.False(&st.Conditions, gen, twv1.IntegrationConditionApproved, approval.waiting.Reason, approval.waiting.Message, now)
		}
	}
	held := obs.tenantSuspended || approval.held()
	st.Replicas, st.AvailableReplicas = 0, 0
	if d := obs.deployment; d != nil {
		st.Replicas, st.AvailableReplicas = d.Status.Replicas, d.Status.AvailableReplicas
	}
	st.Keyring = keyringStatus(obs.deployment)

	credentials := obs.credentials
	if obs.blocked != nil {
		credentials = obs.blocked
	}
	if credentials != nil {
		conditions.False(&st.Conditions, gen, twv1.IntegrationConditionCredentialsReady, credentials.Reason, credentials.Message, now)
	} else {
		conditions.True(&st.Conditions, gen, twv1.IntegrationConditionCredentialsReady, "SecretSynced",
			"Source and destination credentials are synced from the key vault", now)
	}

	if p := workloadProblem(in, obs); p != nil {
		conditions.False(&st.Conditions, gen, twv1.IntegrationConditionWorkloadReady, p.Reason, p.Message, now)
	} else {
		reason, msg := "Available", fmt.Sprintf("%d of %d replicas available", st.AvailableReplicas, desiredReplicas(in, held))
		switch {
		case in.Spec.State == twv1.StateStopped:
			reason, msg = twv1.ReasonStopped, "Stopped: the Deployment is removed"
		case obs.tenantSuspended:
			reason, msg = twv1.ReasonTenantSuspended, "The tenant is suspended: the Deployment is scaled to zero"
		case in.Spec.State == twv1.StatePaused:
			reason, msg = twv1.ReasonPaused, "Paused: the Deployment is scaled to zero"
		case approval.held():
			reason, msg = approval.waiting.Reason, "The flow awaits approval: the Deployment is scaled to zero"
		}
		conditions.True(&st.Conditions, gen, twv1.IntegrationConditionWorkloadReady, reason, msg, now)
	}

	setMappingDurable(&st, in, now)
	if c := lastCycleStatus(obs.cycle); c != nil {
		st.LastCycle = c
	}
	st.Resync = resyncStatus(in, obs.cycle)
	st.Replay = replayStatus(in, obs.cycle)
	setSyncHealthy(&st, gen, now)

	deps := []string{twv1.IntegrationConditionCredentialsReady, twv1.IntegrationConditionWorkloadReady}
	if obs.blocked == nil && approval.required {
		// A flow nobody approved is what Ready reports first; a refused configuration comes before it.
		deps = append([]string{twv1.IntegrationConditionApproved}, deps...)
	}
	conditions.SetSummary(&st.Conditions, gen, deps, obs.blocked != nil && obs.blocked.Stalled, now)
	return st
}

// workloadProblem judges the Deployment by its rollout and availability, not by pod phase: a
// crash-looping pod never becomes available, so the Integration is not Ready.
func workloadProblem(in *twv1.Integration, obs observation) *conditions.Problem {
	if obs.blocked != nil {
		return obs.blocked
	}
	if in.Spec.State == twv1.StateStopped {
		if obs.deployment != nil {
			return &conditions.Problem{Reason: twv1.ReasonProgressing, Message: "Waiting for the Deployment to be removed"}
		}
		return nil
	}
	d := obs.deployment
	if d == nil {
		if obs.credentials != nil {
			return &conditions.Problem{Reason: twv1.ReasonDependencyNotReady, Message: "Waiting for credentials before starting the sync workload"}
		}
		if obs.keyringPending && obs.keyringLost {
			return &conditions.Problem{Reason: twv1.ReasonDependencyNotReady, Message: "The tenant's keyring was lost (its KeyPolicy reports KeyringLost): " +
				"the sync workload stays stopped until the keyring Secret is restored or the loss is acknowledged"}
		}
		if obs.keyringPending {
			return &conditions.Problem{Reason: twv1.ReasonDependencyNotReady, Message: "Waiting for the tenant's keyring before starting the sync workload"}
		}
		return &conditions.Problem{Reason: twv1.ReasonProgressing, Message: "Waiting for the Deployment to appear"}
	}
	want := desiredReplicas(in, obs.tenantSuspended || obs.approval.held())
	if d.Generation > d.Status.ObservedGeneration {
		return &conditions.Problem{Reason: twv1.ReasonDeploymentProgressing, Message: "The Deployment controller has not observed the latest spec yet"}
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			return &conditions.Problem{Reason: twv1.ReasonDeploymentUnavailable, Message: "Rollout Stalled: " + c.Message}
		}
	}
	s := d.Status
	if s.UpdatedReplicas < want || s.AvailableReplicas < want || s.Replicas > want {
		return &conditions.Problem{Reason: twv1.ReasonDeploymentProgressing,
			Message: fmt.Sprintf("%d of %d replicas updated, %d available, %d total", s.UpdatedReplicas, want, s.AvailableReplicas, s.Replicas)}
	}
	return nil
}
