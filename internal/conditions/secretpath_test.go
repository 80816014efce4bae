package conditions

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

func TestSecretPathProblem(t *testing.T) {
	tenant := func(name, prefix string, age time.Duration) twv1.Tenant {
		return twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(time.Unix(1e9, 0).Add(-age))},
			Spec: twv1.TenantSpec{SecretStore: &twv1.TenantSecretStore{Name: "vault", PathPrefix: prefix}}}
	}
	earlier, later, elsewhere := tenant("earlier", "tenants/", time.Hour), tenant("later", "tenants/later/", 0), tenant("elsewhere", "other/", 2*time.Hour)
	all := []twv1.Tenant{earlier, later, elsewhere}
	if p := SecretPathProblem(&earlier, all); p != nil {
		t.Errorf("the earlier tenant is refused: %+v", p)
	}
	p := SecretPathProblem(&later, all)
	if p == nil || p.Reason != twv1.ReasonSecretStorePathOverlap || !p.Stalled || !strings.Contains(p.Message, "Tenant earlier") {
		t.Errorf("the later tenant: %+v, want Stalled %s naming Tenant earlier", p, twv1.ReasonSecretStorePathOverlap)
	}
}
