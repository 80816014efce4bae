package v1alpha1

import "testing"

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
