package v1alpha1

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTenantOfNamespace(t *testing.T) {
	tests := map[string]struct {
		namespace, want string
		ok              bool
	}{
		"tenant namespace":      {namespace: "tenant-acme", want: "acme", ok: true},
		"prefix only":           {namespace: "tenant-"},
		"other namespace":       {namespace: "evil"},
		"prefix in the middle":  {namespace: "my-tenant-acme"},
		"prefix without a dash": {namespace: "tenantacme"},
		"nested prefix is kept": {namespace: "tenant-tenant-acme", want: "tenant-acme", ok: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := TenantOfNamespace(tc.namespace)
			if got != tc.want || ok != tc.ok {
				t.Errorf("TenantOfNamespace(%q) = %q, %v; want %q, %v", tc.namespace, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestSecretPathsOverlap(t *testing.T) {
	store := func(kind SecretStoreKind, name, prefix string) *TenantSecretStore {
		return &TenantSecretStore{Kind: kind, Name: name, PathPrefix: prefix}
	}
	tests := map[string]struct {
		a, b *TenantSecretStore
		want bool
	}{
		"equal":                              {a: store("", "vault", "tenants/acme"), b: store("", "vault", "tenants/acme"), want: true},
		"equal but for a trailing slash":     {a: store("", "vault", "tenants/acme/"), b: store("", "vault", "tenants/acme"), want: true},
		"equal but for a leading slash":      {a: store("", "vault", "/tenants/acme"), b: store("", "vault", "tenants/acme/"), want: true},
		"equal but for a double slash":       {a: store("", "vault", "tenants//acme"), b: store("", "vault", "tenants/acme"), want: true},
		"nested":                             {a: store("", "vault", "tenants/"), b: store("", "vault", "tenants/acme/"), want: true},
		"nested the other way":               {a: store("", "vault", "tenants/acme/lab"), b: store("", "vault", "tenants/acme"), want: true},
		"store root holds everything":        {a: store("", "vault", "/"), b: store("", "vault", "tenants/acme"), want: true},
		"lookalike sibling":                  {a: store("", "vault", "tenants/acme"), b: store("", "vault", "tenants/acme-family"), want: false},
		"lookalike sibling with slashes":     {a: store("", "vault", "tenants/acme/"), b: store("", "vault", "tenants/acme-family/"), want: false},
		"siblings":                           {a: store("", "vault", "tenants/acme/"), b: store("", "vault", "tenants/beta/"), want: false},
		"other store":                        {a: store("", "vault", "tenants/acme"), b: store("", "vault-eu", "tenants/acme"), want: false},
		"other store kind":                   {a: store(NamespacedSecretStoreKind, "vault", "tenants/acme"), b: store(ClusterSecretStoreKind, "vault", "tenants/acme"), want: false},
		"default kind is ClusterSecretStore": {a: store("", "vault", "tenants/acme"), b: store(ClusterSecretStoreKind, "vault", "tenants/acme"), want: true},
		"no store":                           {a: nil, b: store("", "vault", "tenants/acme"), want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := SecretPathsOverlap(tc.a, tc.b); got != tc.want {
				t.Errorf("SecretPathsOverlap(%+v, %+v) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
			if got := SecretPathsOverlap(tc.b, tc.a); got != tc.want {
				t.Errorf("SecretPathsOverlap is not symmetric for %+v, %+v", tc.a, tc.b)
			}
		})
	}
}

func TestSecretPathClaimant(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tenant := func(name string, created time.Duration, prefix string) Tenant {
		tn := Tenant{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0.Add(created))}}
		if prefix != "" {
			tn.Spec.SecretStore = &TenantSecretStore{Kind: ClusterSecretStoreKind, Name: "vault", PathPrefix: prefix}
		}
		return tn
	}
	tests := map[string]struct {
		tenants []Tenant
		of      string
		want    string
	}{
		"alone": {
			tenants: []Tenant{tenant("acme", 0, "tenants/acme/")}, of: "acme",
		},
		"later tenant with an equal prefix is claimed": {
			tenants: []Tenant{tenant("acme", 0, "tenants/acme/"), tenant("mallory", time.Hour, "tenants/acme")}, of: "mallory", want: "acme",
		},
		"earlier tenant keeps its path": {
			tenants: []Tenant{tenant("acme", 0, "tenants/acme/"), tenant("mallory", time.Hour, "tenants/acme")}, of: "acme",
		},
		"later tenant nested under the earlier": {
			tenants: []Tenant{tenant("root", 0, "tenants/"), tenant("acme", time.Hour, "tenants/acme/")}, of: "acme", want: "root",
		},
		"later tenant holding the earlier": {
			tenants: []Tenant{tenant("acme", 0, "tenants/acme/"), tenant("root", time.Hour, "tenants/")}, of: "root", want: "acme",
		},
		"lookalike prefix is no claim": {
			tenants: []Tenant{tenant("acme", 0, "tenants/acme"), tenant("family", time.Hour, "tenants/acme-family")}, of: "family",
		},
		"same second: the name breaks the tie": {
			tenants: []Tenant{tenant("zulu", 0, "tenants/x"), tenant("alpha", 0, "tenants/x")}, of: "zulu", want: "alpha",
		},
		"same second: the first name keeps its path": {
			tenants: []Tenant{tenant("zulu", 0, "tenants/x"), tenant("alpha", 0, "tenants/x")}, of: "alpha",
		},
		"the earliest of several claimants is named, refused or not": {
			tenants: []Tenant{tenant("c", 2*time.Hour, "tenants/x/y"), tenant("b", time.Hour, "tenants/x"), tenant("a", 0, "tenants/")},
			of:      "c", want: "a",
		},
		"a tenant without a store claims nothing": {
			tenants: []Tenant{tenant("nostore", 0, ""), tenant("acme", time.Hour, "tenants/acme")}, of: "acme",
		},
		"a tenant without a store is claimed by nobody": {
			tenants: []Tenant{tenant("acme", 0, "tenants/acme"), tenant("nostore", time.Hour, "")}, of: "nostore",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var of *Tenant
			for i := range tc.tenants {
				if tc.tenants[i].Name == tc.of {
					of = &tc.tenants[i]
				}
			}
			got := SecretPathClaimant(of, tc.tenants)
			switch {
			case got == nil && tc.want != "":
				t.Errorf("no claimant, want %s", tc.want)
			case got != nil && got.Name != tc.want:
				t.Errorf("claimant %s, want %q", got.Name, tc.want)
			}
		})
	}
}
