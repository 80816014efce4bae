package manifests

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tenantwire/tenantwire/internal/testenv"
)

// chartNamespace is where the chart is rendered for validation: not the kustomize namespace, so a
// value that only works there would show.
const chartNamespace = "tenantwire-helm"

// Every manifest users apply is checked by a real kube-apiserver: kubectl apply --server-side
// --dry-run=server with strict field validation rejects unknown or misplaced fields, wrong types,
// CRD schema and CEL violations, and invalid built-in objects (Deployment, NetworkPolicy, RBAC, ...).
// Namespaces carry Pod Security "restricted" in warn mode, so a pod template that would not be
// admitted there fails the test too.
func TestManifestsValidateAgainstAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kube-apiserver")
	}
	sets := map[string][]byte{
		"chart, default values":    helmTemplate(t, chartNamespace),
		"chart, options values":    helmTemplate(t, chartNamespace, "--values", optionsValues),
		"kustomize config/default": kustomizeBuild(t, "config/default"),
		"config/samples":           kustomizeBuild(t, "config/samples"),
		"config/dev":               readFile(t, "config/dev/secretstore-fake.yaml"),
		"config/prometheus":        kustomizeBuild(t, "config/prometheus"),
	}
	// Every YAML example in README.md and docs/ too, each on its own so a failure names the block.
	docSets, docNamespaces := docExampleSets(t)
	maps.Copy(sets, docSets)

	kubeconfig, kubectl := startAPIServer(t, docNamespaces...)
	dir := t.TempDir()
	for name, manifests := range sets {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(dir, strings.NewReplacer(" ", "-", "/", "-", ",", "").Replace(name)+".yaml")
			if err := os.WriteFile(f, manifests, 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "apply", "--server-side", "--force-conflicts",
				"--field-manager", "manifests-test", "--dry-run=server", "--validate=strict", "-f", f)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the API server rejects %s: %v\n%s", name, err, out)
			}
			// Pod Security and deprecation warnings are failures too: users would see them on install.
			for _, line := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(line, "Warning:") {
					t.Errorf("%s: %s", name, line)
				}
			}
			objects := len(decodeAll(t, manifests))
			if applied := strings.Count(string(out), "(server dry run)"); applied != objects {
				t.Errorf("%d objects checked, %d rendered:\n%s", applied, objects, out)
			}
		})
	}
}

func readFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startAPIServer starts kube-apiserver and etcd with the tenantwire, External Secrets Operator,
// ServiceMonitor and PrometheusRule CRDs, creates the namespaces the manifests use and the extra
// ones (those of the docs' examples), and returns a kubeconfig and kubectl.
func startAPIServer(t *testing.T, extraNamespaces ...string) (kubeconfig, kubectl string) {
	t.Helper()
	esoCRDs, err := testenv.ExternalSecretsCRDs()
	if err != nil {
		t.Fatal(err)
	}
	env, err := testenv.Start(esoCRDs, filepath.Join(root, "test", "manifests", "testdata", "crds"))
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })

	kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Dry-run does not create namespaces, so the objects in them need the namespaces to exist. The
	// sample Integration lives in the namespace the operator creates for the sample Tenant.
	namespaces := []string{kustomizeNamespace, chartNamespace, "tenant-acme-family-practice"}
	for _, ns := range extraNamespaces {
		if !slices.Contains(namespaces, ns) {
			namespaces = append(namespaces, ns)
		}
	}
	for _, ns := range namespaces {
		err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: ns,
			Labels: map[string]string{
				"pod-security.kubernetes.io/enforce": "restricted",
				"pod-security.kubernetes.io/warn":    "restricted",
			},
		}})
		if err != nil {
			t.Fatalf("creating namespace %s: %v", ns, err)
		}
	}
	return kubeconfig, tool(t, "kubectl")
}
