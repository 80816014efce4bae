package labels

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// IsTenantNamespace reports whether ns is the namespace tenantwire made for the named Tenant:
// named tenant-<tenant> and labelled by tenantwire as that tenant's. The Tenant controller adopts,
// isolates and purges only such a namespace, and the Integration controller builds only in one;
// a namespace that merely carries the labels, or merely the name, is someone else's.
func IsTenantNamespace(ns metav1.Object, tenant string) bool {
	l := ns.GetLabels()
	return tenant != "" && ns.GetName() == twv1.TenantNamespacePrefix+tenant &&
		l[ManagedBy] == ManagedByValue && l[Tenant] == tenant
}
