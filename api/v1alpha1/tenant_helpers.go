package v1alpha1

import "strings"

// TenantOfNamespace names the Tenant a namespace is named for (tenant-<name>), and reports false
// for a namespace that is not named like a tenant namespace.
func TenantOfNamespace(namespace string) (string, bool) {
	name, ok := strings.CutPrefix(namespace, TenantNamespacePrefix)
	if !ok || name == "" {
		return "", false
	}
	return name, true
}
