package tenant

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/lifecycle"
)

// observation is what one reconcile found out; computeStatus turns it into a status.
type observation struct {
	namespace *conditions.Problem // nil: the namespace is Active and ours
	isolation *conditions.Problem // nil: every isolation child is applied
	// secretPath: nil when the tenant has no secret store or its path prefix is its own.
	secretPath *conditions.Problem
	// export is the export's progress when exportObserved; otherwise status.export stays as it was
	// (after the purge there is nothing left to observe).
	export         *twv1.TenantExportStatus
	exportObserved bool
	// purge: the purge record taken before the purge, or completed by it; nil keeps status.purge.
	purge *twv1.TenantPurgeRecord
}

// computeStatus is a pure function of the Tenant, what the reconcile observed, its lifecycle
// decision and the time.
func computeStatus(t *twv1.Tenant, obs observation, lc lifecycle.Decision, now metav1.Time) twv1.TenantStatus {
	st := *t.Status.DeepCopy()
	st.ObservedGeneration = t.Generation
	st.Namespace = t.NamespaceName()
	gen := t.Generation
	st.State = lc.State
	if obs.exportObserved {
		st.Export = obs.export
	}
	st.OffboardingSince, st.PurgeAfter = nil, nil
	if lc.Offboarding() {
		since, after := metav1.NewTime(lc.OffboardingSince), metav1.NewTime(lc.PurgeAfter)
		st.OffboardingSince, st.PurgeAfter = &since, &after
	}
	if !lc.Offboarding() {
		st.PurgedAt, st.Purge = nil, nil
		conditions.Remove(&st.Conditions, twv1.TenantConditionOffboarding)
	}
	if obs.purge != nil {
		st.Purge = obs.purge
	}
	if st.Purge != nil && len(st.Purge.Remaining) > 0 {
		conditions.True(&st.Conditions, gen, twv1.TenantConditionManualPurgeRequired, twv1.ReasonExternalCopiesRemain,
			remainingMessage(st.Purge), now)
	} else {
		conditions.Remove(&st.Conditions, twv1.TenantConditionManualPurgeRequired)
	}

	if lc.Purged {
		// The terminal state: nothing is left to be Ready about except that the purge is done.
		if st.PurgedAt == nil {
			st.PurgedAt = &now
		}
		msg := fmt.Sprintf("Keyring destroyed and namespace %s deleted at %s", st.Namespace, st.PurgedAt.UTC().Format(time.RFC3339))
		if st.Purge != nil {
			msg += "; " + destroyedKeysMessage(st.Purge)
		}
		conditions.True(&st.Conditions, gen, twv1.TenantConditionOffboarding, twv1.ReasonPurged, msg, now)
		conditions.Remove(&st.Conditions, twv1.TenantConditionNamespaceReady)
		conditions.Remove(&st.Conditions, twv1.TenantConditionIsolationReady)
		conditions.Remove(&st.Conditions, twv1.TenantConditionSecretPathReady)
		conditions.Remove(&st.Conditions, twv1.ConditionReconciling)
		conditions.Remove(&st.Conditions, twv1.ConditionStalled)
		conditions.True(&st.Conditions, gen, twv1.ConditionReady, twv1.ReasonPurged, msg, now)
		return st
	}
	if lc.Offboarding() {
		conditions.True(&st.Conditions, gen, twv1.TenantConditionOffboarding, twv1.ReasonGracePeriod,
			fmt.Sprintf("Workloads stopped and credentials removed; data is kept until %s, then purged",
				lc.PurgeAfter.UTC().Format(time.RFC3339)), now)
	}

	if p := obs.namespace; p != nil {
		conditions.False(&st.Conditions, gen, twv1.TenantConditionNamespaceReady, p.Reason, p.Message, now)
	} else {
		conditions.True(&st.Conditions, gen, twv1.TenantConditionNamespaceReady, twv1.ReasonReconciled,
			fmt.Sprintf("Namespace %s is Active with Pod Security restricted", st.Namespace), now)
	}

	switch {
	case obs.isolation != nil:
		conditions.False(&st.Conditions, gen, twv1.TenantConditionIsolationReady, obs.isolation.Reason, obs.isolation.Message, now)
	case obs.namespace != nil:
		conditions.False(&st.Conditions, gen, twv1.TenantConditionIsolationReady, twv1.ReasonDependencyNotReady,
			"Waiting for the tenant namespace", now)
	default:
		conditions.True(&st.Conditions, gen, twv1.TenantConditionIsolationReady, twv1.ReasonReconciled,
			"Network policies, quota, limits, role bindings and the sync ServiceAccount are applied", now)
	}

	deps := []string{twv1.TenantConditionNamespaceReady, twv1.TenantConditionIsolationReady}
	switch s := t.Spec.SecretStore; {
	case s == nil:
		conditions.Remove(&st.Conditions, twv1.TenantConditionSecretPathReady)
	case obs.secretPath != nil:
		conditions.False(&st.Conditions, gen, twv1.TenantConditionSecretPathReady, obs.secretPath.Reason, obs.secretPath.Message, now)
		deps = append(deps, twv1.TenantConditionSecretPathReady)
	default:
		conditions.True(&st.Conditions, gen, twv1.TenantConditionSecretPathReady, twv1.ReasonReconciled,
			fmt.Sprintf("No other Tenant uses %s %s at or within pathPrefix %q", s.Kind, s.Name, s.PathPrefix), now)
		deps = append(deps, twv1.TenantConditionSecretPathReady)
	}

	stalled := (obs.namespace != nil && obs.namespace.Stalled) || (obs.isolation != nil && obs.isolation.Stalled) ||
		(obs.secretPath != nil && obs.secretPath.Stalled)
	conditions.SetSummary(&st.Conditions, gen, deps, stalled, now)
	return st
}
