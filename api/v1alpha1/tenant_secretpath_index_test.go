package v1alpha1

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestSecretPathIndexFindsExactlyTheOverlappingTenants checks the index against the definition:
// for random sets of tenants on two stores with nested, equal, sibling and root prefixes, the
// tenants found under SecretPathQueries are exactly those SecretPathsOverlap names, so the
// claimant found through the index is the one a scan of every Tenant finds.
func TestSecretPathIndexFindsExactlyTheOverlappingTenants(t *testing.T) {
	prefixes := []string{"", "/", "tenants", "tenants/", "tenants/acme", "/tenants/acme/", "tenants/acme/lab",
		"tenants/acme-family", "tenants//acme/./lab", "other", "other/acme", "tenants/acme/lab/x"}
	stores := []TenantSecretStore{{Name: "vault"}, {Kind: ClusterSecretStoreKind, Name: "vault"}, {Kind: NamespacedSecretStoreKind, Name: "vault"}, {Name: "other"}}
	rng := rand.New(rand.NewSource(1))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for round := range 200 {
		var tenants []Tenant
		for i := range 2 + rng.Intn(8) {
			s := stores[rng.Intn(len(stores))]
			s.PathPrefix = prefixes[rng.Intn(len(prefixes))]
			tn := Tenant{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("t%d", i),
				CreationTimestamp: metav1.NewTime(base.Add(time.Duration(rng.Intn(3)) * time.Second))},
				Spec: TenantSpec{SecretStore: &s}}
			if rng.Intn(6) == 0 {
				tn.Spec.SecretStore = nil
			}
			tenants = append(tenants, tn)
		}
		index := map[string][]int{}
		for i := range tenants {
			for _, k := range SecretPathKeys(&tenants[i]) {
				index[k] = append(index[k], i)
			}
		}
		for i := range tenants {
			tn := &tenants[i]
			var found []int
			for _, q := range SecretPathQueries(tn) {
				found = append(found, index[q]...)
			}
			slices.Sort(found)
			found = slices.Compact(found)
			var want []int
			for j := range tenants {
				if SecretPathsOverlap(tn.Spec.SecretStore, tenants[j].Spec.SecretStore) {
					want = append(want, j)
				}
			}
			if !slices.Equal(found, want) {
				t.Fatalf("round %d, tenant %s %+v: index found %v, overlapping are %v", round, tn.Name, tn.Spec.SecretStore, found, want)
			}
			var answers []Tenant
			for _, j := range found {
				answers = append(answers, tenants[j])
			}
			if a, b := SecretPathClaimant(tn, answers), SecretPathClaimant(tn, tenants); (a == nil) != (b == nil) || (a != nil && a.Name != b.Name) {
				t.Fatalf("round %d, tenant %s: claimant through the index %v, by a full scan %v", round, tn.Name, a, b)
			}
		}
	}
}
