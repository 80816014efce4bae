package integration

import (
	"fmt"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
	"github.com/tenantwire/tenantwire/internal/status"
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

// TestStatusWaitsAfterApplyingTheDeployment: a reconcile that has just applied the Deployment
// writes no progress status, even when the Integration has waited longer than
// --status-min-interval for it (its queue behind): the Deployment controller has not seen the
// Deployment yet. The status shows the step once it has held still for the settle delay.
func TestStatusWaitsAfterApplyingTheDeployment(t *testing.T) {
	start := time.Now()
	clk := clocktesting.NewFakePassiveClock(start)
	c := fake.NewClientBuilder().WithScheme(twscheme.New()).WithStatusSubresource(&twv1.Integration{}).Build()
	r := (&Reconciler{Client: c, APIReader: c, Scheme: c.Scheme(), Recorder: record.NewFakeRecorder(10),
		StatusCoalescer: status.NewCoalescer(clk, status.DefaultTiming)}).complete()
	in := sampleIntegration()
	if err := c.Create(ctx, in); err != nil {
		t.Fatal(err)
	}
	progress := func(reason string) twv1.IntegrationStatus {
		st := *in.Status.DeepCopy()
		st.ObservedGeneration = in.Generation
		conditions.False(&st.Conditions, in.Generation, twv1.IntegrationConditionWorkloadReady, reason, reason, metav1.NewTime(start))
		conditions.SetSummary(&st.Conditions, in.Generation, []string{twv1.IntegrationConditionWorkloadReady}, false, metav1.NewTime(start))
		return st
	}
	written := func() int {
		got := &twv1.Integration{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(in), got); err != nil {
			t.Fatal(err)
		}
		return len(got.Status.Conditions)
	}

	if after, err := r.writeStatus(ctx, in, progress(twv1.ReasonCredentialsPending), false); err != nil || after <= 0 {
		t.Fatalf("first progress: requeue %s, err %v; want it deferred", after, err)
	}
	clk.SetTime(clk.Now().Add(20 * time.Second))
	after, err := r.writeStatus(ctx, in, progress(twv1.ReasonDeploymentProgressing), true)
	if err != nil || written() != 0 {
		t.Fatalf("the reconcile that applied the Deployment wrote its progress (err %v)", err)
	}
	if min := status.DefaultTiming.SettleDelay; after < min {
		t.Errorf("requeue after %s, want the settle delay (%s) or more", after, min)
	}
	clk.SetTime(clk.Now().Add(status.DefaultTiming.SettleDelay + time.Second))
	if _, err := r.writeStatus(ctx, in, progress(twv1.ReasonDeploymentProgressing), false); err != nil || written() == 0 {
		t.Errorf("a rollout still in progress a settle delay later is not shown (err %v)", err)
	}
}
