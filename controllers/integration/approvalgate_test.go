package integration

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// The attacker is a tenant admin who creates an Integration to a destination nobody at the
// practice agreed to. Without an approval its workload must never be asked to run a pod, however
// long it waits with its credentials synced. The Tenant is written as plain YAML (spec.approvers),
// as a user would apply it.
func TestAnIntegrationNobodyApprovedNeverRuns(t *testing.T) {
	tn := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": twv1.GroupVersion.String(), "kind": "Tenant",
		"metadata": map[string]any{"name": "unapproved"},
		"spec": map[string]any{"displayName": "unapproved",
			"secretStore": map[string]any{"kind": "ClusterSecretStore", "name": "vault", "pathPrefix": "tenants/unapproved/"},
			"approvers":   []any{map[string]any{"kind": "User", "name": "alice"}}},
	}}
	if err := k8s.Create(ctx, tn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, tn) })
	ns := twv1.TenantNamespacePrefix + "unapproved"
	testenv.Eventually(t, timeout, func() error { return k8s.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}) })

	in := newIntegration(ns, "exfiltrate")
	in.Spec.Destination.URL = "https://quickbooks.api.intuit.com/v3/company/attacker"
	createIntegration(t, in)
	syncCredentials(t, in, "v1")
	testenv.Eventually(t, timeout, func() error { _, err := getDeployment(in); return err })
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		d, err := getDeployment(in)
		if err != nil {
			t.Fatal(err)
		}
		if n := ptr.Deref(d.Spec.Replicas, 1); n != 0 {
			t.Fatalf("the unapproved Integration's Deployment asks for %d replicas, want 0: its data would flow", n)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// Named as a string, not the constant, so that this test also runs on code without approval.
	waitCondition(t, in, twv1.ConditionReady, metav1.ConditionFalse, "AwaitingApproval")
}
