package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/testenv"
)

const sampleTenant = "acme-family-practice"

func TestSampleTenantBecomesReadyAndIsRemovedWithItsNamespace(t *testing.T) {
	samples := filepath.Join(sim.root, "config", "samples")
	if _, err := sim.kubectl("apply", "--server-side", "-k", samples); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.kubectl("wait", "--for=condition=Ready", "--timeout=90s", "tenant/"+sampleTenant); err != nil {
		t.Fatalf("%v\noperator log:\n%s", err, sim.managerLogTail())
	}

	ns := "tenant-" + sampleTenant
	out, err := sim.kubectl("get", "networkpolicies,resourcequotas,limitranges,rolebindings,serviceaccounts",
		"-n", ns, "-l", "app.kubernetes.io/managed-by=tenantwire", "-o", "name")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"networkpolicy.networking.k8s.io/tenantwire-default-deny",
		"networkpolicy.networking.k8s.io/tenantwire-allow-dns",
		"networkpolicy.networking.k8s.io/tenantwire-allow-ingress",
		"resourcequota/tenantwire-quota",
		"limitrange/tenantwire-limits",
		"rolebinding.rbac.authorization.k8s.io/tenantwire-admins",
		"rolebinding.rbac.authorization.k8s.io/tenantwire-viewers",
		"serviceaccount/tenantwire-sync",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("%s missing from tenant namespace; have:\n%s", want, out)
		}
	}

	// A pod that breaks Pod Security restricted is refused by the real admission chain.
	_, err = sim.kubectl("run", "privileged", "-n", ns, "--image=busybox", "--privileged")
	if err == nil || !strings.Contains(err.Error(), "violates PodSecurity \"restricted") {
		t.Errorf("a privileged pod in the tenant namespace was not refused by Pod Security: %v", err)
	}

	// Re-applying the same manifests changes nothing on the server.
	rv := func() string {
		out, err := sim.kubectl("get", "tenant", sampleTenant, "-o", "jsonpath={.metadata.resourceVersion}")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := rv()
	if _, err := sim.kubectl("apply", "--server-side", "-k", samples); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if after := rv(); after != before {
		t.Errorf("re-applying the samples changed the Tenant: resourceVersion %s -> %s", before, after)
	}

	// Deleting the Tenant removes the namespace for real (namespace controller and GC are running).
	if _, err := sim.kubectl("delete", "-k", samples, "--wait=true", "--timeout=90s"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 90*time.Second, func() error {
		out, err := sim.kubectl("get", "namespace", ns, "--ignore-not-found", "-o", "name")
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) != "" {
			return fmt.Errorf("namespace %s still exists", ns)
		}
		return nil
	})
}
