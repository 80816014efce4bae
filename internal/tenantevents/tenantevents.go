// Package tenantevents filters the Tenant events the controllers that reconcile Tenants act on.
package tenantevents

import (
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// BeyondKeyringReport passes every Tenant event but an update that changed only the KeyPolicy
// controller's report (status.keyring), which the Tenant controller does not read. The per-tenant
// KeyPolicy controller does not use it: it wakes on its own reports, so that one that disagrees
// with the cluster is rewritten; the policy's status is computed from them by the KeyPolicy status
// controller, which has its own watch.
var BeyondKeyringReport = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	o, okOld := e.ObjectOld.(*twv1.Tenant)
	n, okNew := e.ObjectNew.(*twv1.Tenant)
	if !okOld || !okNew {
		return true
	}
	return !equality.Semantic.DeepEqual(withoutReport(o), withoutReport(n))
}}

// withoutReport is t without the keyring report and what every write moves (the
// resourceVersion, managedFields). It copies only what it clears.
func withoutReport(t *twv1.Tenant) twv1.Tenant {
	c := *t
	c.ResourceVersion, c.ManagedFields, c.Status.Keyring = "", nil, nil
	return c
}
