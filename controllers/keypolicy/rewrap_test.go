package keypolicy

import (
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/controllers/integration"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// TestTrimWaitsForConsumersToRewrap: a rotation beyond retention keeps the old version while a
// consumer's Deployment still runs an older one; once the Deployment runs the active version and
// is available, the operator trims with exactly one keyring write.
func TestTrimWaitsForConsumersToRewrap(t *testing.T) {
	createPolicy(t, "rewrap", 1)
	createTenant(t, "rewrap", "rewrap")
	ns := "tenant-rewrap"
	kr := keyringOf(t, "rewrap")
	in := createConsumer(t, ns, "sync-a", nil)
	dep := createConsumerDeployment(t, in, "1")
	waitPolicyReady(t, "rewrap", 1)
	settle(t, "rewrap")

	// Two rotations: [1 2] is within retention; [1 2 3] is not, and the consumer still runs 1.
	created := kr.ActiveVersion().Created
	for _, d := range []time.Duration{24 * time.Hour, 48 * time.Hour} {
		fakeClock.SetTime(created.Add(d))
		reconcilePolicy(t, "rewrap")
	}
	if got := fmt.Sprint(keyringOf(t, "rewrap").VersionNumbers()); got != "[1 2 3]" {
		t.Fatalf("versions with a lagging consumer = %s, want [1 2 3] (version 1 kept)", got)
	}
	kp := waitPolicyCondition(t, "rewrap", twv1.KeyPolicyConditionRetentionEnforced, twv1.ReasonAwaitingRewrap)
	if !conditions.IsTrue(kp.Status.Conditions, twv1.ConditionReady) {
		t.Errorf("keys kept longer made the policy not Ready: %+v", kp.Status.Conditions)
	}

	// Rolled onto version 3 but not yet available: still kept.
	dep.Spec.Template.Annotations[integration.KeyringVersionAnnotation] = "3"
	if err := k8s.Update(ctx, dep); err != nil {
		t.Fatal(err)
	}
	settle(t, "rewrap")
	if got := fmt.Sprint(keyringOf(t, "rewrap").VersionNumbers()); got != "[1 2 3]" {
		t.Fatalf("versions while the consumer rolls out = %s, want [1 2 3]", got)
	}

	// The rollout completes: the managed controller, woken by the Deployment, trims once.
	secrets, err := watcher.Watch(ctx, &corev1.SecretList{}, client.InNamespace(ns),
		client.MatchingFields{"metadata.name": keyring.SecretName})
	if err != nil {
		t.Fatal(err)
	}
	defer secrets.Stop()
	dep.Status = appsv1.DeploymentStatus{ObservedGeneration: dep.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	if err := k8s.Status().Update(ctx, dep); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, timeout, func() error {
		if got := fmt.Sprint(keyringOf(t, "rewrap").VersionNumbers()); got != "[2 3]" {
			return fmt.Errorf("versions %s, want [2 3]", got)
		}
		return nil
	})
	waitPolicyCondition(t, "rewrap", twv1.KeyPolicyConditionRetentionEnforced, twv1.ReasonReconciled)
	settle(t, "rewrap")
	if n := keyringWrites(secrets); n != 1 {
		t.Errorf("the trim took %d keyring writes, want 1", n)
	}
}

// keyringWrites counts the modifications a watch has delivered so far.
func keyringWrites(w watch.Interface) int {
	n := 0
	for {
		select {
		case ev := <-w.ResultChan():
			if ev.Type == watch.Modified {
				n++
			}
		case <-time.After(time.Second):
			return n
		}
	}
}

// createConsumer creates an Integration; whether it is a consumer is up to the policy's selector.
func createConsumer(t *testing.T, ns, name string, lbls map[string]string) *twv1.Integration {
	t.Helper()
	in := &twv1.Integration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbls},
		Spec: twv1.IntegrationSpec{
			Source:      twv1.Endpoint{System: twv1.SystemCerbo, URL: "https://rewrap.md-hq.com/api/v1", Credentials: twv1.Credentials{RemoteKey: "c"}},
			Destination: twv1.Endpoint{System: twv1.SystemZoho, URL: "https://www.zohoapis.com", Credentials: twv1.Credentials{RemoteKey: "z"}},
			Egress:      []twv1.EgressRule{{CIDR: "203.0.113.0/24"}},
		}}
	if err := k8s.Create(ctx, in); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, in) })
	return in
}

// createConsumerDeployment stands in for the sync Deployment the Integration controller would
// create (its credentials never sync here), running keyring version and fully available.
func createConsumerDeployment(t *testing.T, in *twv1.Integration, version string) *appsv1.Deployment {
	t.Helper()
	l := labels.ForIntegration("rewrap", in.Name, "sync")
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: in.Namespace, Name: in.Name + "-sync", Labels: l,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: twv1.GroupVersion.String(), Kind: "Integration",
				Name: in.Name, UID: in.UID, Controller: ptr.To(true)}}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: l, Annotations: map[string]string{integration.KeyringVersionAnnotation: version}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "sync", Image: "tenantwire:test"}}},
			},
		},
	}
	if err := k8s.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	dep.Status = appsv1.DeploymentStatus{ObservedGeneration: dep.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	if err := k8s.Status().Update(ctx, dep); err != nil {
		t.Fatal(err)
	}
	return dep
}
