package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/testenv"
)

const (
	rTenant      = "resilience-clinic"
	rNamespace   = "tenant-" + rTenant
	rIntegration = "zoho-sync"
	// operatorServiceAccount is the operator's identity, the one the admission policies let write
	// in tenant namespaces.
	operatorServiceAccount = "system:serviceaccount:tenantwire-system:tenantwire-manager"
)

var resilienceTenantYAML = `apiVersion: tenantwire.io/v1alpha1
kind: Tenant
metadata:
  name: ` + rTenant + `
spec:
  displayName: Resilience Clinic
  admins: [{kind: Group, name: "oidc:resilience-admins"}]
  secretStore: {kind: ClusterSecretStore, name: e2e-vault, pathPrefix: tenants/` + rTenant + `/}
`

// e2eStoreYAML holds made-up credentials for the Tenants these tests make besides the sample. A
// vault path belongs to one Tenant, so each has its own.
var e2eStoreYAML = `apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata:
  name: e2e-vault
spec:
  provider:
    fake:
      data:` + e2eStoreKeys(rTenant, "csa-clinic", dpTenant, apTenant)

func e2eStoreKeys(tenants ...string) string {
	var b strings.Builder
	for _, t := range tenants {
		b.WriteString(`
      - key: tenants/` + t + `/cerbo/api
        value: '{"username":"sync@` + t + `.example","api_key":"e2e-cerbo-key"}'
      - key: tenants/` + t + `/quickbooks/oauth
        value: '{"client_id":"e2e-client","client_secret":"e2e-secret","refresh_token":"e2e-refresh","realm_id":"4620816365"}'`)
	}
	return b.String()
}

var resilienceIntegrationYAML = `apiVersion: tenantwire.io/v1alpha1
kind: Integration
metadata:
  name: ` + rIntegration + `
  namespace: ` + rNamespace + `
  labels: {tenantwire.io/uses-keyring: "true"}
spec:
  source: {system: cerbo, url: "https://resilience.md-hq.com/api/v1", credentials: {remoteKey: cerbo/api, properties: [username, api_key]}}
  destination: {system: zoho, url: "https://www.zohoapis.com", credentials: {remoteKey: quickbooks/oauth}}
  egress: [{cidr: 203.0.113.0/24}]
  mappingStore: {sqlite: {ephemeral: true}}   # the simulated cluster has no storage provisioner
`

// TestResilience drives the operator the hard way: killed mid-convergence, children deleted and
// edited by hand, finalizers stripped while it is down; then checks it settles with no writes at
// all, before and after a restart, and never shows a secret value.
func TestResilience(t *testing.T) {
	if _, err := sim.kubectlIn(e2eStoreYAML, "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	sim.mustKubectl(t, "apply", "--server-side", "-f", filepath.Join(sim.Root, "config", "samples", "tenantwire_v1alpha1_keypolicy.yaml"))

	t.Run("killed at random points while converging, it reaches the same end state", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
		for i, manifest := range []string{resilienceTenantYAML, resilienceTenantYAML, resilienceIntegrationYAML, resilienceIntegrationYAML} {
			if i >= 2 {
				sim.waitReady(t, "tenant/"+rTenant)
			}
			if _, err := sim.kubectlIn(manifest, "apply", "--server-side", "-f", "-"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(rng.IntN(700)) * time.Millisecond)
			sim.killManager()
			if err := sim.runManager(); err != nil {
				t.Fatal(err)
			}
		}
		sim.waitReady(t, "tenant/"+rTenant)
		sim.waitReady(t, "integration/"+rIntegration, "-n", rNamespace)
		sim.mustKubectl(t, "wait", "--for=condition=Available", "--timeout=60s", "-n", rNamespace, "deployment/"+rIntegration+"-sync")
		waitExactChildren(t)
		// The keyring side converges on its own: a new consumer is bound once it has settled, and
		// the policy leaves ConsumersSettling.
		sim.waitReady(t, "keypolicy/standard")
	})

	t.Run("children deleted or edited by hand are restored", func(t *testing.T) {
		for _, obj := range []string{
			"networkpolicy/tenantwire-default-deny", "networkpolicy/tenantwire-allow-dns", "resourcequota/tenantwire-quota",
			"limitrange/tenantwire-limits", "rolebinding/tenantwire-admins", "serviceaccount/tenantwire-sync",
			"role/" + rIntegration + "-credentials-reader",
			"externalsecret/" + rIntegration + "-source-credentials", "networkpolicy/" + rIntegration + "-egress",
			"deployment/" + rIntegration + "-sync", "rolebinding/tenantwire-keyring-reader",
		} {
			sim.mustKubectl(t, "delete", "-n", rNamespace, obj, "--wait=false")
		}
		sim.mustKubectl(t, "scale", "-n", rNamespace, "deployment/"+rIntegration+"-sync", "--replicas=3")
		// The admission policies of config/admission refuse the rest even to a cluster admin: the
		// sync config is the operator's data (tenant_operator_data.yaml) and a NetworkPolicy's spec
		// the operator's to write (tenant_workloads.yaml). Whoever holds the operator's identity can
		// still make them, so after the admin's refusal they are made in its name.
		syncConfig := "configmap/" + rIntegration + "-sync-config"
		egressCIDR := []string{"patch", "-n", rNamespace, "networkpolicy/" + rIntegration + "-egress", "--type=json",
			"-p", `[{"op":"replace","path":"/spec/egress/0/to/0/ipBlock/cidr","value":"0.0.0.0/0"}]`}
		if _, err := sim.kubectl("delete", "-n", rNamespace, syncConfig, "--wait=false"); err == nil ||
			!strings.Contains(err.Error(), "may be written only by the tenantwire operator") {
			t.Errorf("the cluster admin deleted %s: err = %v, want the tenant-operator-data policy's refusal", syncConfig, err)
		}
		if _, err := sim.kubectl(egressCIDR...); err == nil ||
			!strings.Contains(err.Error(), "may be created or changed only by the tenantwire operator") {
			t.Errorf("the cluster admin widened the egress NetworkPolicy: err = %v, want the tenant-workloads policy's refusal", err)
		}
		asOperator := []string{"--as", operatorServiceAccount}
		sim.mustKubectl(t, append([]string{"delete", "-n", rNamespace, syncConfig, "--wait=false"}, asOperator...)...)
		sim.mustKubectl(t, append(egressCIDR, asOperator...)...)
		testenv.Eventually(t, 60*time.Second, func() error {
			if r := sim.mustKubectl(t, "get", "-n", rNamespace, "deployment/"+rIntegration+"-sync", "-o", "jsonpath={.spec.replicas}"); r != "1" {
				return fmt.Errorf("replicas = %s", r)
			}
			if c := sim.mustKubectl(t, "get", "-n", rNamespace, "networkpolicy/"+rIntegration+"-egress", "-o", "jsonpath={.spec.egress[0].to[0].ipBlock.cidr}"); c != "203.0.113.0/24" {
				return fmt.Errorf("egress cidr = %s", c)
			}
			return nil
		})
		sim.waitReady(t, "integration/"+rIntegration, "-n", rNamespace)
		waitExactChildren(t)
	})

	t.Run("a finalizer removed while the operator is down is put back", func(t *testing.T) {
		sim.killManager()
		sim.mustKubectl(t, "patch", "tenant", rTenant, "--type=json", "-p", `[{"op":"remove","path":"/metadata/finalizers"}]`)
		if err := sim.runManager(); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 60*time.Second, func() error {
			if f := sim.mustKubectl(t, "get", "tenant", rTenant, "-o", "jsonpath={.metadata.finalizers}"); !strings.Contains(f, "tenantwire.io/tenant") {
				return fmt.Errorf("finalizers = %s", f)
			}
			return nil
		})
	})

	t.Run("steady state makes no writes, also after a restart", func(t *testing.T) {
		// Minutes, not seconds: a periodic requeue, a resync or a coalesced status that writes
		// would show within them. E2E_STEADY_SECONDS shortens it while iterating.
		steady := 3 * time.Minute
		if s := os.Getenv("E2E_STEADY_SECONDS"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatal(err)
			}
			steady = time.Duration(n) * time.Second
		}
		sim.waitReady(t, "integration/"+rIntegration, "-n", rNamespace)
		time.Sleep(5 * time.Second) // let the last watch events of the repairs drain
		before, writes := resourceVersions(t), sim.mutatingRequests(t)
		ours := ownObjects(t)
		if writes == 0 {
			t.Fatal("the operator's write counter reads 0 after it re-added a finalizer: the metric is not wired")
		}
		time.Sleep(steady)
		if after := resourceVersions(t); after != before {
			t.Errorf("objects changed during %s of steady state:\n%s\nnew lines of our objects:\n%s", steady, diffLines(before, after), diffLines(ours, ownObjects(t)))
		}
		if n := sim.mutatingRequests(t) - writes; n != 0 {
			t.Errorf("the operator made %v write requests during %s of steady state", n, steady)
		}

		sim.killManager()
		if err := sim.runManager(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(steady / 2)
		if after := resourceVersions(t); after != before {
			t.Errorf("objects changed after a restart:\n%s\nnew lines of our objects:\n%s", diffLines(before, after), diffLines(ours, ownObjects(t)))
		}
		if n := sim.mutatingRequests(t); n != 0 {
			t.Errorf("the restarted operator made %v write requests", n)
		}
	})

	t.Run("no credential or key value appears in logs, events or status", func(t *testing.T) {
		secrets := []string{"dev-cerbo-key-1", "dev-secret", "dev-refresh-1", "dev-refresh-2", "sync@acme.example",
			"e2e-cerbo-key", "e2e-secret", "e2e-refresh", "sync@" + rTenant + ".example"}
		raw := sim.mustKubectl(t, "get", "secret", "tenantwire-keyring", "-n", rNamespace, "-o", "jsonpath={.data.keyring\\.json}")
		decoded, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			t.Fatal(err)
		}
		var kr struct {
			Versions []struct {
				EncryptionKey string `json:"encryptionKey"`
				HMACKey       string `json:"hmacKey"`
			} `json:"versions"`
		}
		if err := json.Unmarshal(decoded, &kr); err != nil || len(kr.Versions) == 0 {
			t.Fatalf("keyring: %v", err)
		}
		for _, v := range kr.Versions {
			secrets = append(secrets, v.EncryptionKey, v.HMACKey)
		}
		logs, _ := os.ReadFile(filepath.Join(sim.DevDir, "manager.log"))
		haystacks := map[string]string{
			"operator log": string(logs),
			"events":       sim.mustKubectl(t, "get", "events", "-A", "-o", "yaml"),
			"status":       sim.mustKubectl(t, "get", "tenants,keypolicies,integrations", "-A", "-o", "jsonpath={.items[*].status}"),
		}
		for where, text := range haystacks {
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("%s contains a secret value (%d characters long)", where, len(s))
				}
			}
		}
	})
}

// waitExactChildren waits until the resilience tenant has exactly the children it should, with
// no duplicates or leftovers from the kills. It waits rather than checks once because each kind of
// child converges on its own controller's schedule: an Integration or a policy can report Ready
// (a status written before the restart, or one the repair does not touch) while the keyring
// reader binding is still held back for a settling consumer. A child that never comes back, or a
// leftover that never goes, fails it.
func waitExactChildren(t *testing.T) {
	t.Helper()
	want := []string{
		"configmap/" + rIntegration + "-sync-config",
		"deployment.apps/" + rIntegration + "-sync",
		"externalsecret.external-secrets.io/" + rIntegration + "-destination-credentials",
		"externalsecret.external-secrets.io/" + rIntegration + "-source-credentials",
		"networkpolicy.networking.k8s.io/" + rIntegration + "-egress",
		"networkpolicy.networking.k8s.io/tenantwire-allow-dns",
		"networkpolicy.networking.k8s.io/tenantwire-allow-ingress",
		"networkpolicy.networking.k8s.io/tenantwire-allow-metrics-scrape",
		"networkpolicy.networking.k8s.io/tenantwire-default-deny",
		"role.rbac.authorization.k8s.io/" + rIntegration + "-credentials-reader",
		"role.rbac.authorization.k8s.io/tenantwire-keyring-reader",
		"rolebinding.rbac.authorization.k8s.io/" + rIntegration + "-credentials-reader",
		"rolebinding.rbac.authorization.k8s.io/tenantwire-admins",
		"rolebinding.rbac.authorization.k8s.io/tenantwire-approvers",
		"rolebinding.rbac.authorization.k8s.io/tenantwire-keyring-reader",
		"rolebinding.rbac.authorization.k8s.io/tenantwire-viewers",
		"serviceaccount/" + rIntegration + "-sync",
		"serviceaccount/tenantwire-sync",
	}
	sort.Strings(want)
	testenv.Eventually(t, 60*time.Second, func() error {
		out := sim.mustKubectl(t, "get", "externalsecrets,deployments,configmaps,roles,rolebindings,networkpolicies,serviceaccounts",
			"-n", rNamespace, "-l", "app.kubernetes.io/managed-by=tenantwire", "-o", "name")
		got := strings.Fields(out)
		sort.Strings(got)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			return fmt.Errorf("children of %s:\n%s\nwant:\n%s", rNamespace, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		return nil
	})
	if pods := strings.Fields(sim.mustKubectl(t, "get", "pods", "-n", rNamespace, "-o", "name")); len(pods) > 1 {
		// Terminating pods of a rolled ReplicaSet may linger briefly; wait them out.
		testenv.Eventually(t, 60*time.Second, func() error {
			if p := strings.Fields(sim.mustKubectl(t, "get", "pods", "-n", rNamespace, "-o", "name")); len(p) != 1 {
				return fmt.Errorf("pods = %v, want exactly one sync pod", p)
			}
			return nil
		})
	}
}

// resourceVersions renders "kind/namespace/name rv" for every object tenantwire owns or manages.
// A ResourceQuota is rendered by what the operator writes of it instead (labels, annotations,
// owners, spec): the controller-manager rewrites its status.used whenever the namespace's usage
// changes, and at its periodic quota resync, which a steady state of minutes may include.
func resourceVersions(t *testing.T) string {
	t.Helper()
	const name = `{{.kind}}/{{.metadata.namespace}}/{{.metadata.name}}`
	tmpl := `{{range .items}}` + name + ` {{.metadata.resourceVersion}}{{"\n"}}{{end}}`
	quotaTmpl := `{{range .items}}` + name + ` {{.metadata.labels}} {{.metadata.annotations}} {{.metadata.ownerReferences}} {{.spec}}{{"\n"}}{{end}}`
	managed := []string{"-A", "-l", "app.kubernetes.io/managed-by=tenantwire", "-o"}
	lines := sim.mustKubectl(t, "get", "tenants,keypolicies,integrations", "-A", "-o", "go-template="+tmpl) +
		sim.mustKubectl(t, slices.Concat([]string{"get", "namespaces,externalsecrets,deployments,configmaps,secrets,roles,rolebindings,networkpolicies,serviceaccounts,limitranges"},
			managed, []string{"go-template=" + tmpl})...) +
		sim.mustKubectl(t, slices.Concat([]string{"get", "resourcequotas"}, managed, []string{"go-template=" + quotaTmpl})...)
	sorted := strings.Split(strings.TrimSpace(lines), "\n")
	sort.Strings(sorted)
	return strings.Join(sorted, "\n")
}

// ownObjects renders the operator's own kinds whole (status included, managed fields left out), so
// a failure can say what changed and not only that something did.
func ownObjects(t *testing.T) string {
	t.Helper()
	return sim.mustKubectl(t, "get", "tenants,keypolicies,integrations", "-A", "-o", "yaml")
}

func diffLines(a, b string) string {
	in := map[string]bool{}
	for _, l := range strings.Split(a, "\n") {
		in[l] = true
	}
	var d []string
	for _, l := range strings.Split(b, "\n") {
		if !in[l] {
			d = append(d, "  "+l)
		}
	}
	return strings.Join(d, "\n")
}

// TestClientSideApplyIsStable applies a Tenant and an Integration the way a client-side GitOps
// pipeline does (kubectl apply, last-applied annotation): the second apply changes nothing,
// because the operator writes only its children and status, never the fields users own.
func TestClientSideApplyIsStable(t *testing.T) {
	manifests := strings.ReplaceAll(resilienceTenantYAML, rTenant, "csa-clinic")
	if _, err := sim.kubectlIn(e2eStoreYAML, "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.kubectlIn(manifests, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	sim.waitReady(t, "tenant/csa-clinic")
	integrationYAML := strings.ReplaceAll(resilienceIntegrationYAML, rNamespace, "tenant-csa-clinic")
	if _, err := sim.kubectlIn(integrationYAML, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	sim.waitReady(t, "integration/"+rIntegration, "-n", "tenant-csa-clinic")
	time.Sleep(3 * time.Second)
	rv := func() string {
		return sim.mustKubectl(t, "get", "tenant/csa-clinic", "integration/"+rIntegration, "-n", "tenant-csa-clinic",
			"-o", "jsonpath={.items[*].metadata.resourceVersion}")
	}
	before := rv()
	for _, m := range []string{manifests, integrationYAML} {
		out, err := sim.kubectlIn(m, "apply", "-f", "-")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "unchanged") {
			t.Errorf("client-side re-apply reported a change: %s", out)
		}
	}
	time.Sleep(2 * time.Second)
	if after := rv(); after != before {
		t.Errorf("client-side re-apply changed objects: resourceVersions %s -> %s", before, after)
	}
}
