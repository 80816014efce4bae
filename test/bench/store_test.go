package main

import (
	"testing"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"sigs.k8s.io/yaml"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// Every ExternalSecret a bench tenant's Integrations render finds its key in the bench store, and
// no two bench tenants share a vault path (the operator would refuse the later one).
func TestBenchStoreServesEveryTenantsOwnPath(t *testing.T) {
	const tenants, integrations = 3, 2
	store := &esv1.ClusterSecretStore{}
	if err := yaml.UnmarshalStrict([]byte(benchStore(tenants)), store); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, d := range store.Spec.Provider.Fake.Data {
		keys[d.Key] = true
	}
	var all []twv1.Tenant
	checked := 0
	for _, phase := range []string{"floor", "bench"} {
		for i := range tenants {
			tn := benchTenant(phase, i)
			all = append(all, *tn)
			objs, err := renderTenant(tn, integrations, nil, "0123456789abcdef0123456789abcdef", "1")
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				es, ok := o.(*esv1.ExternalSecret)
				if !ok {
					continue
				}
				checked++
				for _, d := range es.Spec.Data {
					if !keys[d.RemoteRef.Key] {
						t.Errorf("%s/%s reads %q, which the bench store does not serve", es.Namespace, es.Name, d.RemoteRef.Key)
					}
				}
				for _, d := range es.Spec.DataFrom {
					if d.Extract != nil && !keys[d.Extract.Key] {
						t.Errorf("%s/%s extracts %q, which the bench store does not serve", es.Namespace, es.Name, d.Extract.Key)
					}
				}
			}
		}
	}
	if want := 2 * tenants * integrations * 2; checked != want {
		t.Errorf("checked %d ExternalSecrets, want %d", checked, want)
	}
	for i := range all {
		if c := twv1.SecretPathClaimant(&all[i], all); c != nil {
			t.Errorf("bench tenant %s shares its vault path with %s", all[i].Name, c.Name)
		}
	}
}
