package integration

import (
	"testing"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// TestANewIntegrationStartsItsCredentialsFirst: the reconcile that creates an Integration's
// ExternalSecrets applies nothing else and shows no status (firstPass), so that when many
// Integrations arrive at once all their ExternalSecrets reach ESO before any of their other
// children. The next reconcile applies the rest.
func TestANewIntegrationStartsItsCredentialsFirst(t *testing.T) {
	ns := setupTenant(t, "iota", true)
	tenant := &twv1.Tenant{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: "iota"}, tenant); err != nil {
		t.Fatal(err)
	}
	// An Integration that is not stored: the manager cannot reconcile it, so only the passes below
	// touch its children.
	in := newIntegration(ns, "first-pass")
	in.UID, in.Generation = "3f1c1e1a-first-pass", 1

	pass := func() (observation, inputs) {
		t.Helper()
		var obs observation
		// It starts the watches of ExternalSecrets and PushSecrets, as a reconcile does first.
		if blocked, _, err := reconciler.checkCluster(ctx, in); err != nil || blocked != nil {
			t.Fatalf("checkCluster: %v, %v", blocked, err)
		}
		ip, err := reconciler.gatherInputs(ctx, in, tenant, &obs)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reconciler.applyChildren(ctx, in, ip, &obs); err != nil {
			t.Fatal(err)
		}
		return obs, ip
	}
	exists := func(obj client.Object) bool {
		t.Helper()
		switch err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); {
		case apierrors.IsNotFound(err):
			return false
		case err != nil:
			t.Fatal(err)
		}
		return true
	}

	obs, ip := pass()
	if !obs.credentialsStarted {
		t.Error("the pass that created the ExternalSecrets went on")
	}
	for _, s := range credentialSides(in) {
		if !exists(&esv1.ExternalSecret{ObjectMeta: desiredExternalSecret(in, ip, s).ObjectMeta}) {
			t.Errorf("%s ExternalSecret not created", s)
		}
	}
	sa := desiredServiceAccount(in, ip)
	if exists(&corev1.ServiceAccount{ObjectMeta: sa.ObjectMeta}) {
		t.Error("the first pass applied the ServiceAccount too")
	}

	if obs, _ = pass(); obs.credentialsStarted {
		t.Error("the second pass stopped after the ExternalSecrets, which it did not create")
	}
	if !exists(&corev1.ServiceAccount{ObjectMeta: sa.ObjectMeta}) {
		t.Error("the second pass did not apply the ServiceAccount")
	}
}
