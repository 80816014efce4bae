package integration

import (
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// An Integration cannot take a name of the tenant namespace's own objects: "tenantwire" would make
// its ServiceAccount <name>-sync the Tenant's tenantwire-sync.
func TestIntegrationRefusesTenantLevelNames(t *testing.T) {
	const want = "Integration names tenantwire and tenantwire-* are reserved"
	for _, name := range []string{"tenantwire", "tenantwire-keyring", "tenantwire-x"} {
		in := newIntegration("default", name)
		err := k8s.Create(ctx, in, client.DryRunAll)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("Integration %s: error = %v, want Invalid mentioning %q", name, err, want)
		}
	}
	for _, name := range []string{"tenantwire2", "my-tenantwire", "cerbo-to-qb"} {
		if err := k8s.Create(ctx, newIntegration("default", name), client.DryRunAll); err != nil {
			t.Errorf("Integration %s refused: %v", name, err)
		}
	}
}
