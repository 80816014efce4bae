package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/testenv"
)

const (
	apTenant      = "approval-clinic"
	apNamespace   = "tenant-" + apTenant
	apIntegration = "cerbo-to-quickbooks"
)

// approvalTenantYAML names ann its admin, vic its viewer and carol its approver: a Tenant that names
// approvers requires approval of its Integrations although the e2e operator runs with
// --require-approval=false.
var approvalTenantYAML = `apiVersion: tenantwire.io/v1alpha1
kind: Tenant
metadata:
  name: ` + apTenant + `
spec:
  displayName: Approval Clinic
  admins: [{kind: User, name: ann}]
  viewers: [{kind: User, name: vic}]
  approvers: [{kind: User, name: carol}]
  secretStore: {kind: ClusterSecretStore, name: e2e-vault, pathPrefix: tenants/` + apTenant + `/}
`

var approvalIntegrationYAML = `apiVersion: tenantwire.io/v1alpha1
kind: Integration
metadata:
  name: ` + apIntegration + `
  namespace: ` + apNamespace + `
spec:
  source: {system: cerbo, url: "https://approval.md-hq.com/api/v1", credentials: {remoteKey: cerbo/api, properties: [username, api_key]}}
  destination: {system: quickbooks, url: "https://quickbooks.api.intuit.com", credentials: {remoteKey: quickbooks/oauth, properties: [client_id, client_secret, refresh_token, realm_id]}}
  fields: [name, email, phone]
  egress: [{cidr: 203.0.113.0/24}, {cidr: 198.51.100.0/24}]
  mappingStore: {sqlite: {ephemeral: true}}   # the simulated cluster has no storage provisioner
`

// approvalManifest is an IntegrationApproval of the Integration's flow digest in the name of approvedBy.
func approvalManifest(name, approvedBy, digest string) string {
	return fmt.Sprintf(`apiVersion: tenantwire.io/v1alpha1
kind: IntegrationApproval
metadata:
  name: %s
  namespace: %s
spec:
  integration: %s
  flowDigest: %s
  approvedBy: %s
`, name, apNamespace, apIntegration, digest, approvedBy)
}

// TestApproval walks README "Approving an Integration" with impersonated users: the admin ann
// creates an Integration, which waits with its workload at zero; neither the viewer vic nor ann may
// approve; the approver carol approves the flow's digest in her own name and the workload runs; ann
// changes spec.fields, which voids the approval and pauses the workload again. The simulated cluster
// runs under every policy of config/admission (hack/dev-cluster.sh), integration_approvals.yaml among them.
func TestApproval(t *testing.T) {
	if _, err := sim.kubectlIn(e2eStoreYAML, "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.kubectlIn(approvalTenantYAML, "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	defer purgeTenant(t, apTenant, apNamespace)
	sim.waitReady(t, "tenant/"+apTenant)

	asAnn := []string{"--as", "ann"}
	if _, err := sim.kubectlIn(approvalIntegrationYAML, append([]string{"create", "-f", "-"}, asAnn...)...); err != nil {
		t.Fatal(err)
	}
	waitApprovalReason(t, "AwaitingApproval")
	waitSyncReplicas(t, 0)
	digest := sim.mustKubectl(t, "get", "integration", apIntegration, "-n", apNamespace, "-o", "jsonpath={.status.flowDigest}")
	if !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("status.flowDigest = %q, want a sha256 digest", digest)
	}
	msg := sim.mustKubectl(t, "get", "integration", apIntegration, "-n", apNamespace, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].message}`)
	if !strings.Contains(msg, digest) || !strings.Contains(msg, "name, email, phone") {
		t.Errorf("the Ready message does not say which flow awaits approval (fields and digest %s): %s", digest, msg)
	}

	for _, who := range [][]string{{"--as", "vic"}, asAnn} {
		manifest := approvalManifest("by-"+who[1], "carol", digest)
		_, err := sim.kubectlIn(manifest, append([]string{"create", "-f", "-"}, who...)...)
		if err == nil || !strings.Contains(err.Error(), "Forbidden") && !strings.Contains(err.Error(), "forbidden") {
			t.Errorf("%s created an IntegrationApproval in carol's name: err = %v, want forbidden", who[1], err)
		}
	}
	if _, err := sim.kubectlIn(approvalManifest("by-carol-as-ann", "ann", digest), "create", "-f", "-", "--as", "carol"); err == nil ||
		!strings.Contains(err.Error(), "spec.approvedBy of an IntegrationApproval must be the user who creates it") {
		t.Errorf("carol created an IntegrationApproval in ann's name: err = %v, want the admission policy's refusal", err)
	}

	if _, err := sim.kubectlIn(approvalManifest("carol-first-flow", "carol", digest), "create", "-f", "-", "--as", "carol"); err != nil {
		t.Fatal(err)
	}
	sim.waitReady(t, "integration/"+apIntegration, "-n", apNamespace)
	waitSyncReplicas(t, 1)
	sim.mustKubectl(t, "wait", "--for=condition=Available", "--timeout=60s", "-n", apNamespace, "deployment/"+apIntegration+"-sync")
	if got := sim.mustKubectl(t, "get", "integration", apIntegration, "-n", apNamespace, "-o", "jsonpath={.status.approval.approvedBy} {.status.approval.flowDigest}"); got != "carol "+digest {
		t.Errorf("status.approval = %q, want carol and %s", got, digest)
	}
	t.Logf("approved: %s", sim.mustKubectl(t, "get", "integration", apIntegration, "-n", apNamespace))

	sim.mustKubectl(t, append([]string{"patch", "integration", apIntegration, "-n", apNamespace, "--type=merge", "-p", `{"spec":{"fields":["name","email"]}}`}, asAnn...)...)
	waitApprovalReason(t, "FlowChangedSinceApproval")
	waitSyncReplicas(t, 0)
	if changed := sim.mustKubectl(t, "get", "integration", apIntegration, "-n", apNamespace, "-o", "jsonpath={.status.flowDigest}"); changed == digest {
		t.Errorf("status.flowDigest stayed %s after spec.fields changed", digest)
	}
	t.Logf("after ann's change of spec.fields: %s", sim.mustKubectl(t, "get", "integration", apIntegration, "-n", apNamespace))
}

// waitApprovalReason waits for the Integration's Ready condition to be False with the reason.
func waitApprovalReason(t *testing.T, reason string) {
	t.Helper()
	sim.mustKubectl(t, "wait", "--timeout=60s", "-n", apNamespace, "integration/"+apIntegration,
		`--for=jsonpath={.status.conditions[?(@.type=="Ready")].reason}=`+reason)
	if ready := sim.mustKubectl(t, "get", "integration", apIntegration, "-n", apNamespace, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`); ready != "False" {
		t.Errorf("Ready is %q with reason %s, want False", ready, reason)
	}
}

// waitSyncReplicas waits for the sync Deployment to ask for, and report, exactly n replicas.
func waitSyncReplicas(t *testing.T, n int) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, func() error {
		got := sim.mustKubectl(t, "get", "deployment", apIntegration+"-sync", "-n", apNamespace, "--ignore-not-found",
			"-o", "jsonpath={.spec.replicas}/{.status.replicas}")
		if want := fmt.Sprintf("%d/%d", n, n); got != want && (n != 0 || got != "0/") {
			return fmt.Errorf("the sync Deployment's replicas (spec/status) = %q, want %s", got, want)
		}
		return nil
	})
}
