package integration

import (
	"fmt"
	"testing"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// TestConvergenceWritesStatusAtMostTwice walks one Integration through the steps of a normal
// convergence, each seen by a reconcile: credentials pending, then a Deployment its controller has
// not observed yet, then Ready. Writing every step costs three status writes or more; coalescing
// leaves the first status (if the object has not converged within the settle delay) and Ready.
func TestConvergenceWritesStatusAtMostTwice(t *testing.T) {
	ns := setupTenant(t, "eta", true)
	in := newIntegration(ns, "coalesced")
	before := writes.Writes()
	createIntegration(t, in)

	// Credentials pending: a reconcile has run once the ExternalSecrets exist.
	testenv.Eventually(t, timeout, func() error {
		for _, s := range credentialSides(in) {
			key := client.ObjectKey{Namespace: ns, Name: credentialsName(in, s)}
			if err := k8s.Get(ctx, key, &esv1.ExternalSecret{}); err != nil {
				return err
			}
		}
		return nil
	})
	// Deployment not observed yet: a reconcile has run once it exists (envtest runs no
	// Deployment controller, so it stays unobserved until markAvailable).
	syncCredentials(t, in, "v1")
	testenv.Eventually(t, timeout, func() error { _, err := getDeployment(in); return err })
	markAvailable(t, in)
	waitCondition(t, in, twv1.ConditionReady, metav1.ConditionTrue, "")

	statusWrites := 0
	want := fmt.Sprintf("status-patch %T %s/%s", in, in.Namespace, in.Name)
	for _, w := range writes.Since(before) {
		if w == want {
			statusWrites++
		}
	}
	if statusWrites < 1 || statusWrites > 2 {
		t.Errorf("convergence wrote the status %d times, want 1 (Ready) or 2 (first progress and Ready)", statusWrites)
	}
}
