package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
	"github.com/tenantwire/tenantwire/internal/devsync"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

const (
	sampleTenant      = "acme-family-practice"
	sampleNamespace   = "tenant-" + sampleTenant
	sampleIntegration = "cerbo-to-quickbooks"
)

// TestSamples walks the samples through their life as a GitOps pipeline would drive them, against
// the real controller-manager, scheduler, kwok nodes and External Secrets Operator.
func TestSamples(t *testing.T) {
	samples := filepath.Join(sim.Root, "config", "samples")
	tenantYAML := filepath.Join(samples, "tenantwire_v1alpha1_tenant.yaml")
	keyPolicyYAML := filepath.Join(samples, "tenantwire_v1alpha1_keypolicy.yaml")
	integrationYAML := filepath.Join(samples, "tenantwire_v1alpha1_integration.yaml")
	sim.mustKubectl(t, "apply", "--server-side", "-f", filepath.Join(sim.Root, "config", "dev", "secretstore-fake.yaml"))

	t.Run("tenant becomes Ready with its isolation", func(t *testing.T) {
		sim.mustKubectl(t, "apply", "--server-side", "-f", keyPolicyYAML)
		sim.mustKubectl(t, "apply", "--server-side", "-f", tenantYAML)
		sim.waitReady(t, "tenant/"+sampleTenant)
		out := sim.mustKubectl(t, "get", "networkpolicies,resourcequotas,limitranges,rolebindings,serviceaccounts",
			"-n", sampleNamespace, "-l", "app.kubernetes.io/managed-by=tenantwire", "-o", "name")
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
				t.Errorf("%s missing from the tenant namespace; have:\n%s", want, out)
			}
		}
		// A pod that breaks Pod Security restricted is refused by the real admission chain.
		_, err := sim.kubectl("run", "privileged", "-n", sampleNamespace, "--image=busybox", "--privileged")
		if err == nil || !strings.Contains(err.Error(), `violates PodSecurity "restricted`) {
			t.Errorf("a privileged pod in the tenant namespace was not refused by Pod Security: %v", err)
		}
	})

	t.Run("integration syncs credentials through ESO and its Deployment becomes Available", func(t *testing.T) {
		// The simulated cluster has no storage provisioner: a volume bound in advance to the
		// sample's state claim, which the operator creates by default.
		sim.mustKubectl(t, "apply", "--server-side", "-f", filepath.Join(sim.Root, "config", "dev", "state-volume.yaml"))
		sim.mustKubectl(t, "apply", "--server-side", "-f", integrationYAML)
		sim.waitReady(t, "integration/"+sampleIntegration, "-n", sampleNamespace)
		sim.mustKubectl(t, "wait", "--for=condition=Available", "--timeout=60s", "-n", sampleNamespace, "deployment/"+sampleIntegration+"-sync")
		keys := sim.mustKubectl(t, "get", "secret", sampleIntegration+"-destination-credentials", "-n", sampleNamespace,
			"-o", "go-template={{range $k, $v := .data}}{{$k}} {{end}}")
		if strings.TrimSpace(keys) != "client_id client_secret realm_id refresh_token" {
			t.Errorf("destination credential keys = %q", keys)
		}
	})

	t.Run("the default key policy covers the tenant and the consumer mounts its keyring", func(t *testing.T) {
		sim.waitReady(t, "keypolicy/standard")
		out := sim.mustKubectl(t, "get", "tenant", sampleTenant, "-o", "jsonpath={.status.keyring.policy} {.status.keyring.activeVersion}")
		if out != "standard 1" {
			t.Errorf("tenant status.keyring = %q, want policy standard at version 1", out)
		}
		// The policy is the cluster's default: the other tests' tenants count too, so every tenant
		// it covers must be current, the sample's among them.
		counts := sim.mustKubectl(t, "get", "keypolicy", "standard", "-o", "jsonpath={.status.tenantCount} {.status.currentCount} {.status.failingCount}")
		var tenants, current, failing int
		if _, err := fmt.Sscanf(counts+" 0", "%d %d %d", &tenants, &current, &failing); err != nil || tenants < 1 || current != tenants || failing != 0 {
			t.Errorf("keypolicy status tenantCount, currentCount, failingCount = %q, want every tenant current and none failing", counts)
		}
		version := sim.mustKubectl(t, "get", "deployment", sampleIntegration+"-sync", "-n", sampleNamespace,
			"-o", `jsonpath={.spec.template.metadata.annotations.tenantwire\.io/keyring-version}`)
		if version != "1" {
			t.Errorf("sync pods carry keyring version %q, want 1", version)
		}
	})

	t.Run("the operator's metrics report each object's readiness and the tenant's key age", func(t *testing.T) {
		for _, object := range []struct{ kind, namespace, name string }{
			{"Tenant", "", sampleTenant}, {"Integration", sampleNamespace, sampleIntegration}, {"KeyPolicy", "", "standard"},
		} {
			labels := []string{`kind="` + object.kind + `"`, `namespace="` + object.namespace + `"`, `name="` + object.name + `"`}
			if v := sim.metric(t, "tenantwire_resource_ready", labels...); v != 1 {
				t.Errorf("tenantwire_resource_ready of %s %s = %v, want 1", object.kind, object.name, v)
			}
		}
		if age := sim.metric(t, "tenantwire_key_age_seconds", `tenant="`+sampleTenant+`"`); age <= 0 || age > 3600 {
			t.Errorf("tenantwire_key_age_seconds of %s = %v, want the seconds since the keyring was made", sampleTenant, age)
		}
	})

	t.Run("the sample's sync runtime runs a cycle against fake vendors; after a restart it updates, not creates", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		rt, err := devsync.Start(ctx, devsync.Options{Kubectl: sim.Kubectl, Namespace: sampleNamespace, Integration: sampleIntegration,
			Binary: sim.managerBin, Dir: sim.DevDir, Notes: t.Output()})
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Stop()
		first, err := rt.Cycle(ctx, 0)
		patients := len(fakesystem.DemoPatients())
		if err != nil || first.Created != patients || first.Pages < 2 {
			t.Fatalf("first cycle = %+v, %v; want all %d patients created over several pages", first, err, patients)
		}
		if created, _ := rt.QuickBooks.Counts(); created != patients {
			t.Errorf("the fake QuickBooks created %d customers, want %d", created, patients)
		}

		if err := rt.ShowInPodLogs(ctx); err != nil {
			t.Fatal(err)
		}
		logs := sim.mustKubectl(t, "logs", "-n", sampleNamespace, "deployment/"+sampleIntegration+"-sync")
		if !strings.Contains(logs, `"msg":"sync cycle finished"`) {
			t.Errorf("kubectl logs of the sync pod lack the finished cycle:\n%s", logs)
		}

		// The fake QuickBooks has rotated the mounted refresh token away, so the restarted runtime
		// also has to refresh with the one it kept in its store.
		if err := rt.Restart(); err != nil {
			t.Fatal(err)
		}
		second, err := rt.Cycle(ctx, 1)
		if err != nil || second.Created != 0 || second.Updated == 0 {
			t.Fatalf("cycle after the restart = %+v, %v; want updates of the patients read again and no creates", second, err)
		}
		if created, updated := rt.QuickBooks.Counts(); created != patients || updated != second.Updated {
			t.Errorf("the fake QuickBooks has %d creates and %d updates, want %d and %d", created, updated, patients, second.Updated)
		}
	})

	t.Run("a changed vault value rolls the workload exactly once", func(t *testing.T) {
		deploy := "deployment/" + sampleIntegration + "-sync"
		gen := func() int {
			n, err := strconv.Atoi(sim.mustKubectl(t, "get", deploy, "-n", sampleNamespace, "-o", "jsonpath={.metadata.generation}"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		hash := func() string {
			return sim.mustKubectl(t, "get", "integration", sampleIntegration, "-n", sampleNamespace, "-o", "jsonpath={.status.credentialsHash}")
		}
		gen0, hash0 := gen(), hash()

		// Rotate the QuickBooks refresh token in the vault, then ask ESO to re-read it now rather
		// than at the next refresh interval.
		sim.mustKubectl(t, "patch", "clustersecretstore", "tenant-vault", "--type=json", "-p",
			`[{"op":"replace","path":"/spec/provider/fake/data/1/value","value":"{\"client_id\":\"dev-client\",\"client_secret\":\"dev-secret\",\"refresh_token\":\"dev-refresh-2\",\"realm_id\":\"4620816365\"}"}]`)
		sim.mustKubectl(t, "annotate", "externalsecret", sampleIntegration+"-destination-credentials", "-n", sampleNamespace,
			"force-sync="+strconv.FormatInt(time.Now().UnixNano(), 10), "--overwrite")

		testenv.Eventually(t, 60*time.Second, func() error {
			if h := hash(); h == hash0 {
				return fmt.Errorf("credentials hash still %s", h)
			}
			return nil
		})
		sim.waitReady(t, "integration/"+sampleIntegration, "-n", sampleNamespace)
		time.Sleep(2 * time.Second)
		if g := gen(); g != gen0+1 {
			t.Errorf("the rotation changed the Deployment %d times, want exactly 1", g-gen0)
		}
	})

	t.Run("re-applying the samples server-side changes nothing", func(t *testing.T) {
		rv := func() string {
			return sim.mustKubectl(t, "get", "keypolicy/standard", "tenant/"+sampleTenant, "integration/"+sampleIntegration,
				"deployment/"+sampleIntegration+"-sync", "-n", sampleNamespace, "-o", "jsonpath={.items[*].metadata.resourceVersion}")
		}
		before := rv()
		sim.mustKubectl(t, "apply", "--server-side", "-f", keyPolicyYAML)
		sim.mustKubectl(t, "apply", "--server-side", "-f", tenantYAML)
		sim.mustKubectl(t, "apply", "--server-side", "-f", integrationYAML)
		time.Sleep(2 * time.Second)
		if after := rv(); after != before {
			t.Errorf("re-applying changed objects: resourceVersions %s -> %s", before, after)
		}
	})

	t.Run("deleting the tenant offboards it; an explicit purge destroys keys, then the namespace", func(t *testing.T) {
		sim.mustKubectl(t, "delete", "-f", tenantYAML, "--wait=false")
		sim.mustKubectl(t, "wait", "--for=jsonpath={.status.state}=Offboarding", "--timeout=60s", "tenant/"+sampleTenant)
		sim.mustKubectl(t, "wait", "--for=condition=Ready=False", "--timeout=60s", "-n", sampleNamespace, "integration/"+sampleIntegration)
		if out := sim.mustKubectl(t, "get", "secret", "tenantwire-keyring", "-n", sampleNamespace, "-o", "name"); strings.TrimSpace(out) == "" {
			t.Fatal("the keyring of a tenant in its grace period is gone")
		}
		sim.mustKubectl(t, "annotate", "tenant", sampleTenant, "tenantwire.io/purge-immediately=true")
		testenv.Eventually(t, 90*time.Second, func() error {
			if out := sim.mustKubectl(t, "get", "namespace", sampleNamespace, "--ignore-not-found", "-o", "name"); strings.TrimSpace(out) != "" {
				return fmt.Errorf("namespace %s still exists", sampleNamespace)
			}
			if out := sim.mustKubectl(t, "get", "tenant", sampleTenant, "--ignore-not-found", "-o", "name"); strings.TrimSpace(out) != "" {
				return fmt.Errorf("tenant %s still exists", sampleTenant)
			}
			return nil
		})
	})
}
