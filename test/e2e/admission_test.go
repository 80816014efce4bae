package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestClusterRunsUnderTheInstalledPolicies: the simulated cluster has every admission policy of
// config/admission, the kustomization an install applies, so the other tests and `make run` see
// what a real install enforces. A cluster admin (kubectl's identity here) who bypasses RBAC is
// still refused a namespace named tenant-*: it could be prepared with objects of their own before
// a Tenant claims it.
func TestClusterRunsUnderTheInstalledPolicies(t *testing.T) {
	policies := sim.mustKubectl(t, "kustomize", filepath.Join(sim.Root, "config", "admission"))
	installed, err := sim.kubectlIn(policies, "get", "-f", "-", "-o", "name")
	if err != nil {
		t.Errorf("config/admission is not installed as a whole: %v", err)
	}
	if n := strings.Count(installed, "validatingadmissionpolicybinding"); n == 0 || n != strings.Count(policies, "kind: ValidatingAdmissionPolicyBinding") {
		t.Errorf("installed bindings:\n%s\nwant every binding of config/admission", installed)
	}

	_, err = sim.kubectl("create", "namespace", "tenant-squatted")
	if err == nil {
		_, _ = sim.kubectl("delete", "namespace", "tenant-squatted", "--wait=false")
	}
	if err == nil || !strings.Contains(err.Error(), "namespaces named tenant-* may be created or changed only by the tenantwire operator") {
		t.Errorf("the cluster admin created namespace tenant-squatted: err = %v, want the tenant-identities policy's refusal", err)
	}
}
