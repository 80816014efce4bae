package keypolicy

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
)

// maxNamedTenants bounds the tenant names a condition message lists; the count is always given.
const maxNamedTenants = 5

// computeStatus is a pure function of the policy and the per-tenant results.
func computeStatus(kp *twv1.KeyPolicy, results []tenantResult, now metav1.Time) twv1.KeyPolicyStatus {
	st := *kp.Status.DeepCopy()
	gen := kp.Generation
	st.ObservedGeneration = gen
	st.TenantCount = int32(len(results))
	st.Tenants = make([]twv1.TenantKeyStatus, 0, len(results))
	var failing, awaiting []string
	var first *conditions.Problem
	heldVersions, lagging := 0, 0
	for _, r := range results {
		st.Tenants = append(st.Tenants, r.status)
		if r.problem != nil {
			failing = append(failing, r.status.Tenant)
			if first == nil {
				first = r.problem
			}
		}
		if r.held > 0 {
			awaiting = append(awaiting, r.status.Tenant)
			heldVersions += r.held
			lagging += r.lagging
		}
	}
	slices.SortFunc(st.Tenants, func(a, b twv1.TenantKeyStatus) int { return strings.Compare(a.Tenant, b.Tenant) })
	if len(st.Tenants) == 0 {
		st.Tenants = nil
	}

	const keyrings = twv1.KeyPolicyConditionKeyringsReady
	switch {
	case first != nil:
		conditions.False(&st.Conditions, gen, keyrings, first.Reason,
			fmt.Sprintf("%d of %d tenants affected (%s): %s", len(failing), len(results), strings.Join(failing, ", "), first.Message), now)
	case len(results) == 0:
		conditions.True(&st.Conditions, gen, keyrings, twv1.ReasonNoTenants, "No tenant uses this policy", now)
	default:
		conditions.True(&st.Conditions, gen, keyrings, twv1.ReasonReconciled, fmt.Sprintf("Keyrings of %d tenants are current", len(results)), now)
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
