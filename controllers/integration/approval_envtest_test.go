package integration

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// setupApprovingTenant creates a Tenant that names approvers, so its Integrations need approval
// although the suite's reconciler runs without --require-approval.
func setupApprovingTenant(t *testing.T, name string, twoPerson bool, approvers ...twv1.Subject) string {
	t.Helper()
	tn := &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: twv1.TenantSpec{DisplayName: name,
		SecretStore: &twv1.TenantSecretStore{Kind: "ClusterSecretStore", Name: "vault", PathPrefix: "tenants/" + name + "/"},
		Approvers:   approvers, Approval: twv1.TenantApproval{TwoPerson: twoPerson}}}
	if err := k8s.Create(ctx, tn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, tn) })
	ns := tn.NamespaceName()
	testenv.Eventually(t, timeout, func() error { return k8s.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}) })
	return ns
}

// approve records an approval as the admission policy would have admitted it (this suite runs no
// policies: the approver's identity is proven in test/approval).
func approve(t *testing.T, in *twv1.Integration, name, digest, by string, groups ...string) *twv1.IntegrationApproval {
	t.Helper()
	a := &twv1.IntegrationApproval{ObjectMeta: metav1.ObjectMeta{Namespace: in.Namespace, Name: name},
		Spec: twv1.IntegrationApprovalSpec{Integration: in.Name, FlowDigest: digest, ApprovedBy: by, ApproverGroups: groups}}
	if err := k8s.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, a) })
	return a
}

// waitReplicas waits until the sync Deployment asks for n pods.
func waitReplicas(t *testing.T, in *twv1.Integration, n int32) {
	t.Helper()
	testenv.Eventually(t, timeout, func() error {
		d, err := getDeployment(in)
		if err != nil || ptr.Deref(d.Spec.Replicas, -1) != n {
			return fmt.Errorf("Deployment replicas = %v, want %d (err=%v)", d.Spec.Replicas, n, err)
		}
		return nil
	})
}

// waitHeld waits for the workload to be at zero with Ready=False for the reason, and returns the
// Integration.
func waitHeld(t *testing.T, in *twv1.Integration, reason string) *twv1.Integration {
	t.Helper()
	waitReplicas(t, in, 0)
	got := waitCondition(t, in, twv1.ConditionReady, metav1.ConditionFalse, reason)
	if got.Status.Approval != nil {
		t.Errorf("status.approval = %+v while the flow is held", got.Status.Approval)
	}
	return got
}

func updateIntegration(t *testing.T, in *twv1.Integration, mutate func(*twv1.Integration)) {
	t.Helper()
	cur := getIntegration(t, in)
	mutate(cur)
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
}

// An Integration of a Tenant with approvers moves no data until an approver approves its exact
// flow: an approval of another digest, or by someone the Tenant does not list, starts nothing; a
// flow change pauses it again; deleting the approval revokes it.
func TestIntegrationRunsOnlyOnAnApprovedFlow(t *testing.T) {
	ns := setupApprovingTenant(t, "appr-one", false, twv1.Subject{Kind: twv1.SubjectUser, Name: "alice"})
	in := newIntegration(ns, "gated")
	createIntegration(t, in)
	syncCredentials(t, in, "v1")

	got := waitHeld(t, in, twv1.ReasonAwaitingApproval)
	digest := got.Status.FlowDigest
	if digest != flowDigest(got) {
		t.Fatalf("status.flowDigest = %q, want %q", digest, flowDigest(got))
	}
	ready := conditions.Get(got.Status.Conditions, twv1.ConditionReady)
	for _, want := range []string{"cerbo (https://acme.md-hq.com/api/v1)", "quickbooks (https://quickbooks.api.intuit.com)", "203.0.113.0/24:443", digest} {
		if !strings.Contains(ready.Message, want) {
			t.Errorf("Ready message %q does not say %q", ready.Message, want)
		}
	}
	assertRefusedReconcileWritesNothing(t, got)

	// An approval of another flow (digest X) does not start this one (digest Y).
	other := flowDigest(sampleIntegration(func(o *twv1.Integration) { o.Spec.Destination.URL = "https://elsewhere.intuit.com" }))
	approve(t, in, "gated-other-flow", other, "alice")
	waitHeld(t, in, twv1.ReasonFlowChangedSinceApproval)
	// Nor does an approval of this flow by someone the Tenant does not list.
	approve(t, in, "gated-by-mallory", digest, "mallory")
	waitHeld(t, in, twv1.ReasonApproverNotAllowed)

	approve(t, in, "gated-by-alice", digest, "alice")
	waitReplicas(t, in, 1)
	markAvailable(t, in)
	got = waitCondition(t, in, twv1.ConditionReady, metav1.ConditionTrue, "")
	if a := got.Status.Approval; a == nil || a.ApprovedBy != "alice" || a.FlowDigest != digest || a.Name != "gated-by-alice" || a.ApprovedAt.IsZero() {
		t.Errorf("status.approval = %+v, want alice's approval of %s", a, digest)
	}
	testenv.Eventually(t, timeout, func() error {
		if n := countEvents(t, in, corev1.EventTypeNormal, "Approved"); n != 1 {
			return fmt.Errorf("%d Approved events, want 1", n)
		}
		return nil
	})
	assertRefusedReconcileWritesNothing(t, got)

	// Resources are not part of the flow: it keeps running.
	updateIntegration(t, in, func(cur *twv1.Integration) {
		cur.Spec.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{"memory": resource.MustParse("300Mi")}}
	})
	waitCondition(t, in, twv1.IntegrationConditionApproved, metav1.ConditionTrue, twv1.ReasonApproved)
	waitReplicas(t, in, 1)

	// A new egress network is: the approval is void.
	updateIntegration(t, in, func(cur *twv1.Integration) {
		cur.Spec.Egress = append(cur.Spec.Egress, twv1.EgressRule{CIDR: "192.0.2.0/24"})
	})
	got = waitHeld(t, in, twv1.ReasonFlowChangedSinceApproval)
	if got.Status.FlowDigest == digest {
		t.Error("status.flowDigest did not follow the flow change")
	}
	testenv.Eventually(t, timeout, func() error {
		if countEvents(t, in, corev1.EventTypeWarning, "ApprovalVoided") != 1 {
			return fmt.Errorf("no ApprovalVoided event")
		}
		return nil
	})

	// Back to the approved flow it runs again; deleting the approval revokes it.
	updateIntegration(t, in, func(cur *twv1.Integration) { cur.Spec.Egress = cur.Spec.Egress[:len(cur.Spec.Egress)-1] })
	waitReplicas(t, in, 1)
	if err := k8s.Delete(ctx, &twv1.IntegrationApproval{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gated-by-alice"}}); err != nil {
		t.Fatal(err)
	}
	waitHeld(t, in, twv1.ReasonApproverNotAllowed)
	testenv.Eventually(t, timeout, func() error {
		if countEvents(t, in, corev1.EventTypeWarning, "ApprovalRevoked") != 1 {
			return fmt.Errorf("no ApprovalRevoked event")
		}
		return nil
	})
}

// With the two-person rule, the flow's author cannot approve it; another approver, listed by
// group, can.
func TestTwoPersonRuleRefusesTheAuthorsApproval(t *testing.T) {
	ns := setupApprovingTenant(t, "appr-two", true,
		twv1.Subject{Kind: twv1.SubjectUser, Name: "alice"}, twv1.Subject{Kind: twv1.SubjectGroup, Name: "oidc:approvers"})
	in := newIntegration(ns, "two-person")
	in.Annotations = map[string]string{twv1.FlowAuthorAnnotation: "alice"}
	createIntegration(t, in)
	syncCredentials(t, in, "v1")
	digest := waitHeld(t, in, twv1.ReasonAwaitingApproval).Status.FlowDigest

	approve(t, in, "two-person-by-alice", digest, "alice")
	got := waitHeld(t, in, twv1.ReasonApproverIsAuthor)
	if msg := conditions.Get(got.Status.Conditions, twv1.ConditionReady).Message; !strings.Contains(msg, "alice last changed the flow") {
		t.Errorf("Ready message %q does not say the author may not approve", msg)
	}

	approve(t, in, "two-person-by-dave", digest, "dave", "oidc:approvers")
	waitReplicas(t, in, 1)
	got = waitCondition(t, in, twv1.IntegrationConditionApproved, metav1.ConditionTrue, twv1.ReasonApproved)
	if got.Status.Approval == nil || got.Status.Approval.ApprovedBy != "dave" {
		t.Errorf("status.approval = %+v, want dave's", got.Status.Approval)
	}
}
