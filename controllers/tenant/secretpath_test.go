package tenant

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

func tenantOnPath(name, prefix string) *twv1.Tenant {
	tn := newTenant(name)
	tn.Spec.SecretStore = &twv1.TenantSecretStore{Kind: twv1.ClusterSecretStoreKind, Name: "vault", PathPrefix: prefix}
	return tn
}

// waitSecretPath waits until SecretPathReady has the status, and, when refused, names claimant.
func waitSecretPath(t *testing.T, name string, status metav1.ConditionStatus, claimant string) *twv1.Tenant {
	t.Helper()
	tn := &twv1.Tenant{}
	testenv.Eventually(t, timeout, func() error {
		if err := get(t, client.ObjectKey{Name: name}, tn); err != nil {
			return err
		}
		c := conditions.Get(tn.Status.Conditions, twv1.TenantConditionSecretPathReady)
		if c == nil || c.Status != status || tn.Status.ObservedGeneration != tn.Generation {
			return fmt.Errorf("tenant %s: want SecretPathReady=%s, have %+v", name, status, tn.Status.Conditions)
		}
		if claimant != "" && (c.Reason != twv1.ReasonSecretStorePathOverlap || !strings.Contains(c.Message, "Tenant "+claimant+",")) {
			return fmt.Errorf("tenant %s: want %s naming Tenant %s, have %s: %s", name, twv1.ReasonSecretStorePathOverlap, claimant, c.Reason, c.Message)
		}
		return nil
	})
	return tn
}

// An attacker (or a mistake) gives a second Tenant the same key vault path as an existing one, or
// a path inside it or around it: the later Tenant is refused, naming the earlier.
func TestLaterTenantOnAnOverlappingSecretPathIsRefused(t *testing.T) {
	first := tenantOnPath("pathfirst", "practices/first")
	create(t, first)
	waitReady(t, "pathfirst")
	create(t, tenantOnPath("pathlater", "practices/first/"))
	create(t, tenantOnPath("pathnested", "practices/first/lab/"))
	create(t, tenantOnPath("pathlookalike", "practices/first-family/"))

	later := waitSecretPath(t, "pathlater", metav1.ConditionFalse, "pathfirst")
	if ready := conditions.Get(later.Status.Conditions, twv1.ConditionReady); ready.Reason != twv1.ReasonSecretStorePathOverlap ||
		!conditions.IsTrue(later.Status.Conditions, twv1.ConditionStalled) {
		t.Errorf("want Ready=False %s and Stalled, have %+v", twv1.ReasonSecretStorePathOverlap, later.Status.Conditions)
	}
	waitSecretPath(t, "pathnested", metav1.ConditionFalse, "pathfirst")
	waitSecretPath(t, "pathlookalike", metav1.ConditionTrue, "")
	waitReady(t, "pathlookalike")
	waitSecretPath(t, "pathfirst", metav1.ConditionTrue, "")
	testenv.Eventually(t, timeout, func() error { return expectEvent("pathlater", twv1.ReasonSecretStorePathOverlap) })

	// The earlier Tenant moves away: the later one recovers by itself, and the nested one is now
	// inside the later one's path.
	testenv.Eventually(t, timeout, func() error {
		if err := get(t, client.ObjectKeyFromObject(first), first); err != nil {
			return err
		}
		first.Spec.SecretStore.PathPrefix = "practices/moved/"
		return k8s.Update(context.Background(), first)
	})
	waitSecretPath(t, "pathlater", metav1.ConditionTrue, "")
	waitReady(t, "pathlater")
	waitSecretPath(t, "pathnested", metav1.ConditionFalse, "pathlater")

	// The later Tenant goes: the nested one recovers.
	later = &twv1.Tenant{}
	if err := get(t, client.ObjectKey{Name: "pathlater"}, later); err != nil {
		t.Fatal(err)
	}
	later.Annotations = map[string]string{twv1.PurgeImmediatelyAnnotation: "true"}
	if err := k8s.Update(context.Background(), later); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Delete(context.Background(), later); err != nil {
		t.Fatal(err)
	}
	waitSecretPath(t, "pathnested", metav1.ConditionTrue, "")
	waitReady(t, "pathnested")
}
