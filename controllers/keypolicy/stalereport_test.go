package keypolicy

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// TestReportThatDisagreesWithTheClusterIsRewritten: a tenant's status.keyring that says something
// the cluster does not (a report computed from a view older than the last write, or written by
// hand) is rewritten by the managed controller without any other change to wake it. Before, the
// controller ignored report-only updates, so a stale report stood until the next rotation: the
// policy's RetentionEnforced then said what the keyring no longer was.
func TestReportThatDisagreesWithTheClusterIsRewritten(t *testing.T) {
	createPolicy(t, "stale", 1)
	createTenant(t, "stale", "stale")
	waitPolicyReady(t, "stale", 1)
	settle(t, "stale")
	want := tenantReport(t, "stale")
	if want.ActiveVersion == 0 || want.HeldVersions != 0 {
		t.Fatalf("settled report %+v, want an active version and none held", want)
	}

	stale := want
	stale.HeldVersions, stale.LaggingConsumers = 1, 1
	patch, err := reportPatch(&stale)
	if err != nil {
		t.Fatal(err)
	}
	if err := k8s.Status().Patch(ctx, &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "stale"}}, patch); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, timeout, func() error {
		if got := tenantReport(t, "stale"); !equality.Semantic.DeepEqual(got, want) {
			return fmt.Errorf("report %+v, want %+v", got, want)
		}
		return nil
	})
	waitPolicyCondition(t, "stale", twv1.KeyPolicyConditionRetentionEnforced, twv1.ReasonReconciled)
}
