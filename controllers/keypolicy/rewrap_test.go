package keypolicy

import (
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// TestTrimWaitsForConsumersToRewrap: a rotation beyond retention keeps the old version while a
// consumer's status reports an older version than the active one; once it reports the active
// version, the operator trims with exactly one keyring write. No Deployment exists: the decision
// reads the Integration's status, the contract with the Integration controller, and nothing of
// that controller's children.
func TestTrimWaitsForConsumersToRewrap(t *testing.T) {
	createPolicy(t, "rewrap", 1)
	createTenant(t, "rewrap", "rewrap")
	ns := "tenant-rewrap"
	kr := keyringOf(t, "rewrap")
	in := createConsumer(t, ns, "sync-a", nil)
	reportRewrapped(t, in, 1)
	waitPolicyReady(t, "rewrap", 1)
	settle(t, "rewrap")

	// Two rotations: [1 2] is within retention; [1 2 3] is not, and the consumer reports 1.
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

	// Rolling onto version 3: the workload proves no version while it rewraps. Still kept.
	reportRewrapped(t, in, 0)
	settle(t, "rewrap")
	if got := fmt.Sprint(keyringOf(t, "rewrap").VersionNumbers()); got != "[1 2 3]" {
		t.Fatalf("versions while the consumer rolls out = %s, want [1 2 3]", got)
	}

	// The consumer reports the active version: the managed controller, woken by the status, trims once.
	secrets, err := watcher.Watch(ctx, &corev1.SecretList{}, client.InNamespace(ns),
		client.MatchingFields{"metadata.name": keyring.SecretName})
	if err != nil {
		t.Fatal(err)
	}
	defer secrets.Stop()
	reportRewrapped(t, in, 3)
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
	deployments := &appsv1.DeploymentList{}
	if err := k8s.List(ctx, deployments, client.InNamespace(ns)); err != nil || len(deployments.Items) != 0 {
		t.Errorf("the trim must be decided without Deployments; found %d (%v)", len(deployments.Items), err)
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

// reportRewrapped writes, as the Integration controller would (it does not run here), the keyring
// version the consumer's workload proved it rewrapped to; 0 reports none.
func reportRewrapped(t *testing.T, in *twv1.Integration, version int32) {
	t.Helper()
	testenv.Eventually(t, timeout, func() error {
		cur := &twv1.Integration{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(in), cur); err != nil {
			return err
		}
		cur.Status.Keyring = nil
		if version > 0 {
			cur.Status.Keyring = &twv1.IntegrationKeyringStatus{RewrappedVersion: version}
		}
		return k8s.Status().Update(ctx, cur)
	})
}
