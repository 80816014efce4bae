package labels

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestIsTenantNamespace(t *testing.T) {
	ours := map[string]string{ManagedBy: ManagedByValue, Tenant: "acme"}
	tests := map[string]struct {
		name   string
		labels map[string]string
		tenant string
		want   bool
	}{
		"the tenant's namespace":                   {name: "tenant-acme", labels: ours, tenant: "acme", want: true},
		"labelled like it under another name":      {name: "evil", labels: ours, tenant: "acme"},
		"another tenant's name with acme's labels": {name: "tenant-mallory", labels: ours, tenant: "mallory"},
		"the right name without our labels":        {name: "tenant-acme", tenant: "acme"},
		"the right name without managed-by":        {name: "tenant-acme", labels: map[string]string{Tenant: "acme"}, tenant: "acme"},
		"managed-by another tool":                  {name: "tenant-acme", labels: map[string]string{ManagedBy: "helm", Tenant: "acme"}, tenant: "acme"},
		"no tenant asked":                          {name: "tenant-", labels: map[string]string{ManagedBy: ManagedByValue, Tenant: ""}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ns := &metav1.ObjectMeta{Name: tc.name, Labels: tc.labels}
			if got := IsTenantNamespace(ns, tc.tenant); got != tc.want {
				t.Errorf("IsTenantNamespace(%s %v, %q) = %v, want %v", tc.name, tc.labels, tc.tenant, got, tc.want)
			}
		})
	}
}
