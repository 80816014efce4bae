package keypolicy

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
)

// maxNamedTenants bounds the tenant names a condition message lists; the count is always given.
const maxNamedTenants = 5

// computeStatus is a pure function of the policy and the status.keyring of the tenants it covers
// (in name order, each with a ready namespace reporting on this generation; those without count
// as TenantNotReady). Its size does not grow with the tenants:
// counts, the first few failing tenants and the progress of spec.rotateNow.
func computeStatus(kp *twv1.KeyPolicy, covered []twv1.Tenant, now metav1.Time) twv1.KeyPolicyStatus {
	st := *kp.Status.DeepCopy()
	gen := kp.Generation
	st.ObservedGeneration = gen
	st.TenantCount = int32(len(covered))
	st.CurrentCount, st.AwaitingRewrapCount, st.FailingCount = 0, 0, 0
	st.Failing = nil
	st.RotateNow = nil
	rn := kp.Spec.RotateNow
	if rn != nil {
		st.RotateNow = &twv1.KeyRotationRequestStatus{Request: rn.Request}
	}
	var failing, awaiting []string
	var first *twv1.TenantKeyringStatus
	heldVersions, lagging := 0, 0
	for i := range covered {
		t := &covered[i]
		k := t.Status.Keyring
		switch {
		case !namespaceReady(t):
			k = notReadyReport.DeepCopy()
			if prev := t.Status.Keyring; prev != nil {
				k.RotationRequest = prev.RotationRequest
			}
		case k == nil:
			k = &twv1.TenantKeyringStatus{}
		}
		if k.Reason != "" {
			failing = append(failing, t.Name)
			if first == nil {
				first = k
			}
			if len(st.Failing) < twv1.MaxFailingTenants {
				st.Failing = append(st.Failing, twv1.TenantKeyProblem{Tenant: t.Name, Reason: k.Reason})
			}
		} else {
			st.CurrentCount++
		}
		if k.HeldVersions > 0 {
			awaiting = append(awaiting, t.Name)
			heldVersions += int(k.HeldVersions)
			lagging += int(k.LaggingConsumers)
		}
		if rn.Names(t.Name) {
			if k.RotationRequest == rn.Request {
				st.RotateNow.Rotated++
			} else {
				st.RotateNow.Pending++
			}
		}
	}
	st.FailingCount, st.AwaitingRewrapCount = int32(len(failing)), int32(len(awaiting))

	const keyrings = twv1.KeyPolicyConditionKeyringsReady
	switch {
	case first != nil:
		conditions.False(&st.Conditions, gen, keyrings, first.Reason,
			fmt.Sprintf("%d of %d tenants affected (%s): %s", len(failing), len(covered), nameList(failing), first.Message), now)
	case len(covered) == 0:
		conditions.True(&st.Conditions, gen, keyrings, twv1.ReasonNoTenants, "No tenant uses this policy", now)
	default:
		conditions.True(&st.Conditions, gen, keyrings, twv1.ReasonReconciled, fmt.Sprintf("Keyrings of %d tenants are current", len(covered)), now)
	}
	// Retention is reported apart from Ready: keys that are kept longer still work, and a paused
	// consumer may keep them for as long as it is paused.
	if len(awaiting) > 0 {
		conditions.False(&st.Conditions, gen, twv1.KeyPolicyConditionRetentionEnforced, twv1.ReasonAwaitingRewrap,
			fmt.Sprintf("%d tenants (%s) keep %d versions beyond retainVersions until %d consumer Integrations run the active version and are available",
				len(awaiting), nameList(awaiting), heldVersions, lagging), now)
	} else {
		conditions.True(&st.Conditions, gen, twv1.KeyPolicyConditionRetentionEnforced, twv1.ReasonReconciled,
			"No keyring keeps versions beyond retainVersions", now)
	}
	conditions.SetSummary(&st.Conditions, gen, []string{keyrings}, first != nil && first.Stalled, now)
	return st
}

// nameList names the first few tenants and counts the rest.
func nameList(names []string) string {
	if len(names) <= maxNamedTenants {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxNamedTenants], ", "), len(names)-maxNamedTenants)
}
