package keypolicy

import (
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/keyring"
)

// DesiredObjects is what the controller keeps for one tenant of a generated-key policy: keyring,
// reader Role and RoleBinding. The scale benchmark creates the same objects with a plain client.
func DesiredObjects(t *twv1.Tenant, kp *twv1.KeyPolicy, kr *keyring.Keyring, consumers []string) ([]client.Object, error) {
	secret, err := desiredKeyringSecret(t, kp, kr)
	if err != nil {
		return nil, err
	}
	return []client.Object{secret, desiredReaderRole(t, kp), desiredReaderBinding(t, kp, consumers)}, nil
}
