package integration

import (
	"fmt"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// failCredentialSync plays External Secrets Operator losing its provider (or its own pods
// restarting into errors): both ExternalSecrets report SecretSyncedError, their Secrets stay.
func failCredentialSync(t *testing.T, in *twv1.Integration) {
	t.Helper()
	for _, s := range credentialSides(in) {
		es := &esv1.ExternalSecret{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: credentialsName(in, s)}, es); err != nil {
			t.Fatal(err)
		}
		es.Status.Conditions = []esv1.ExternalSecretStatusCondition{{Type: esv1.ExternalSecretReady, Status: corev1.ConditionFalse,
			Reason: esv1.ConditionReasonSecretSyncedError, Message: "could not get secret data from provider", LastTransitionTime: metav1.Now()}}
		if err := k8s.Status().Update(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFaultMatrixExternalSecretsDown is the "ESO down after Ready" row of the fault matrix
// (docs/operations.md, "Fault matrix"). While ESO cannot sync, the credentials it synced stay, the
// sync pods keep running on them without a roll (a roll is what would put the runtime on a fresh
// store), and the status says the credentials are not refreshing. Once ESO syncs the same data
// again the Integration is Ready, still without a roll.
func TestFaultMatrixExternalSecretsDown(t *testing.T) {
	ns := setupTenant(t, "eso-down", true)
	in := newIntegration(ns, "cerbo-qb")
	createIntegration(t, in)
	syncCredentials(t, in, "v1")
	d := markAvailable(t, in)
	waitCondition(t, in, twv1.ConditionReady, metav1.ConditionTrue, "")
	gen0, hash0, replicas0 := d.Generation, d.Spec.Template.Annotations[CredentialsHashAnnotation], ptr.Deref(d.Spec.Replicas, 1)
	secrets0 := map[string]string{}
	for _, s := range credentialSides(in) {
		secret := &corev1.Secret{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: credentialsName(in, s)}, secret); err != nil {
			t.Fatal(err)
		}
		secrets0[secret.Name] = secret.ResourceVersion
	}

	failCredentialSync(t, in)
	down := waitCondition(t, in, twv1.IntegrationConditionCredentialsReady, metav1.ConditionFalse, twv1.ReasonCredentialsSyncFailed)
	// A few reconciles' worth of time, to give a wrong reaction (a roll, a scale-down) its chance.
	time.Sleep(2 * time.Second)
	assertUntouched := func(when string) {
		t.Helper()
		d, err := getDeployment(in)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if d.Generation != gen0 || d.Spec.Template.Annotations[CredentialsHashAnnotation] != hash0 || ptr.Deref(d.Spec.Replicas, 1) != replicas0 {
			t.Errorf("%s: the Deployment changed (generation %d -> %d, replicas %d -> %d): the sync pods rolled", when, gen0, d.Generation, replicas0, ptr.Deref(d.Spec.Replicas, 1))
		}
		for name, rv := range secrets0 {
			secret := &corev1.Secret{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, secret); err != nil {
				t.Errorf("%s: credential Secret %s: %v", when, name, err)
			} else if secret.ResourceVersion != rv && when == "while ESO is down" {
				t.Errorf("%s: credential Secret %s was rewritten", when, name)
			}
		}
	}
	assertUntouched("while ESO is down")
	c := conditions.Get(down.Status.Conditions, twv1.IntegrationConditionCredentialsReady)
	if c.Message == "" || conditions.IsTrue(down.Status.Conditions, twv1.ConditionStalled) {
		t.Errorf("while ESO is down: CredentialsReady %+v, Stalled %v; want ESO's message and not stalled (ESO coming back fixes it)",
			c, conditions.IsTrue(down.Status.Conditions, twv1.ConditionStalled))
	}
	ready := conditions.Get(down.Status.Conditions, twv1.ConditionReady)

	start := time.Now()
	syncCredentials(t, in, "v1")
	waitCondition(t, in, twv1.ConditionReady, metav1.ConditionTrue, "")
	recovery := time.Since(start)
	assertUntouched("after ESO came back")

	testenv.CheckFaultRows(t, []testenv.FaultRow{{Fault: "ESO down after Ready",
		Outcome: fmt.Sprintf("the credential Secrets stay and the sync pods keep running on them, unrolled; CredentialsReady False (%s), Ready %s (%s); Ready again once ESO syncs",
			twv1.ReasonCredentialsSyncFailed, ready.Status, ready.Reason),
		Recovery: recovery, Test: t.Name()}})
}
