package keypolicy

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
)

// computeStatus is a pure function of the policy and the per-tenant results.
func computeStatus(kp *twv1.KeyPolicy, results []tenantResult, now metav1.Time) twv1.KeyPolicyStatus {
	st := *kp.Status.DeepCopy()
	gen := kp.Generation
	st.ObservedGeneration = gen
	st.TenantCount = int32(len(results))
	st.Tenants = make([]twv1.TenantKeyStatus, 0, len(results))
	var failing []string
	var first *conditions.Problem
	for _, r := range results {
		st.Tenants = append(st.Tenants, r.status)
		if r.problem != nil {
			failing = append(failing, r.status.Tenant)
			if first == nil {
				first = r.problem
			}
		}
	}
	slices.SortFunc(st.Tenants, func(a, b twv1.TenantKeyStatus) int { return strings.Compare(a.Tenant, b.Tenant) })
	if len(st.Tenants) == 0 {
		st.Tenants = nil
	}

	const keyrings = "KeyringsReady"
	switch {
	case first != nil:
		conditions.False(&st.Conditions, gen, keyrings, first.Reason,
			fmt.Sprintf("%d of %d tenants affected (%s): %s", len(failing), len(results), strings.Join(failing, ", "), first.Message), now)
	case len(results) == 0:
		conditions.True(&st.Conditions, gen, keyrings, twv1.ReasonNoTenants, "No tenant uses this policy", now)
	default:
		conditions.True(&st.Conditions, gen, keyrings, twv1.ReasonReconciled, fmt.Sprintf("Keyrings of %d tenants are current", len(results)), now)
	}
	conditions.SetSummary(&st.Conditions, gen, []string{keyrings}, first != nil && first.Stalled, now)
	return st
}
