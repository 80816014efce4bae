package tenant

import (
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// DesiredObjects is every object the controller converges a Tenant to (namespace first). The
// scale benchmark creates the same objects with a plain client to measure the floor.
func DesiredObjects(t *twv1.Tenant, dns DNSTarget) []client.Object {
	return append([]client.Object{desiredNamespace(t)}, desiredChildren(t, dns, nil)...)
}
