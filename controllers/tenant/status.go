package tenant

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
)

// problem is something that keeps a condition False. stalled marks problems only the user can fix.
type problem struct {
	reason  string
	message string
	stalled bool
}

// observation is what one reconcile found out; computeStatus turns it into a status.
type observation struct {
	namespace *problem // nil: the namespace is Active and ours
	isolation *problem // nil: every isolation child is applied
}

// computeStatus is a pure function of the Tenant, what the reconcile observed and the time.
func computeStatus(t *twv1.Tenant, obs observation, now metav1.Time) twv1.TenantStatus {
	st := *t.Status.DeepCopy()
	st.ObservedGeneration = t.Generation
	st.Namespace = t.NamespaceName()
	gen := t.Generation

	if p := obs.namespace; p != nil {
		conditions.False(&st.Conditions, gen, twv1.TenantConditionNamespaceReady, p.reason, p.message, now)
	} else {
		conditions.True(&st.Conditions, gen, twv1.TenantConditionNamespaceReady, twv1.ReasonReconciled,
			fmt.Sprintf("Namespace %s is Active with Pod Security restricted", st.Namespace), now)
	}

	switch {
	case obs.isolation != nil:
		conditions.False(&st.Conditions, gen, twv1.TenantConditionIsolationReady, obs.isolation.reason, obs.isolation.message, now)
	case obs.namespace != nil:
		conditions.False(&st.Conditions, gen, twv1.TenantConditionIsolationReady, twv1.ReasonDependencyNotReady,
			"Waiting for the tenant namespace", now)
	default:
		conditions.True(&st.Conditions, gen, twv1.TenantConditionIsolationReady, twv1.ReasonReconciled,
			"Network policies, quota, limits, role bindings and the sync ServiceAccount are applied", now)
	}

	stalled := (obs.namespace != nil && obs.namespace.stalled) || (obs.isolation != nil && obs.isolation.stalled)
	conditions.SetSummary(&st.Conditions, gen,
		[]string{twv1.TenantConditionNamespaceReady, twv1.TenantConditionIsolationReady}, stalled, now)
	return st
}
