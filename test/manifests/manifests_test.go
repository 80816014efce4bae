// Package manifests tests what users install: the Helm chart in charts/tenantwire and the kustomize
// bases in config/. It renders them with the helm, kustomize and kubectl that hack/tools.sh builds,
// checks that chart and kustomize grant the same, least-privilege RBAC, and validates every rendered
// object, and every YAML example in README.md and docs/, against a real kube-apiserver (envtest)
// with server-side dry-run.
package manifests

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/tenantwire/tenantwire/internal/manager"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

var root = testenv.RepoRoot()

const (
	chartDir = "charts/tenantwire"
	// optionsValues sets every optional branch of the chart (replicas 2, ServiceMonitor, ...).
	optionsValues = "test/manifests/testdata/values-options.yaml"
	// kustomizeNamespace is where config/default installs; the chart is rendered into it when its
	// output is compared with kustomize's.
	kustomizeNamespace = "tenantwire-system"
)

var toolPaths sync.Map

// tool returns the path of a tool built by hack/tools.sh, building it on first use.
func tool(t testing.TB, name string) string {
	t.Helper()
	if p, ok := toolPaths.Load(name); ok {
		return p.(string)
	}
	cmd := exec.Command(filepath.Join(root, "hack", "tools.sh"), "path", name)
	cmd.Stderr = os.Stderr // build progress on a fresh machine
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hack/tools.sh path %s: %v", name, err)
	}
	p := strings.TrimSpace(string(out))
	toolPaths.Store(name, p)
	return p
}

// kubeVersion is the Kubernetes version hack/tools.sh builds (and envtest runs). helm renders for
// it explicitly: a go-installed helm otherwise assumes v1.20, below the chart's kubeVersion.
func kubeVersion(t testing.TB) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(root, "hack", "tools.sh"), "versions").Output()
	if err != nil {
		t.Fatalf("hack/tools.sh versions: %v", err)
	}
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "KUBE_VERSION="); ok {
			return v
		}
	}
	t.Fatalf("no KUBE_VERSION in %q", out)
	return ""
}

// run runs a command in the repository root and returns its stdout, and stderr in the error.
func run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), errors.New(filepath.Base(name) + " " + strings.Join(args, " ") + ": " + err.Error() + "\n" + stderr.String())
	}
	return stdout.Bytes(), nil
}

// helmTemplate renders the chart into namespace with extra helm flags (e.g. -f values.yaml).
func helmTemplate(t testing.TB, namespace string, extra ...string) []byte {
	t.Helper()
	out, err := helmTemplateErr(t, namespace, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func helmTemplateErr(t testing.TB, namespace string, extra ...string) ([]byte, error) {
	t.Helper()
	args := append([]string{"template", "tenantwire", chartDir, "--namespace", namespace, "--kube-version", kubeVersion(t)}, extra...)
	return run(tool(t, "helm"), args...)
}

// kustomizeBuild renders a kustomize directory relative to the repository root.
func kustomizeBuild(t testing.TB, dir string) []byte {
	t.Helper()
	out, err := run(tool(t, "kustomize"), "build", dir)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// decodeAll splits a multi-document YAML stream into objects, skipping empty documents.
func decodeAll(t testing.TB, data []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("decoding rendered manifests: %v", err)
		}
		if len(m) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
}

// find returns the object of that kind and name, or nil.
func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func TestChartLint(t *testing.T) {
	tests := map[string][]string{
		"default values": nil,
		"options values": {"--values", optionsValues},
	}
	for name, extra := range tests {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"lint", "--strict", chartDir, "--kube-version", kubeVersion(t)}, extra...)
			if out, err := run(tool(t, "helm"), args...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

func TestChartSchemaRejectsBadValues(t *testing.T) {
	tests := map[string]struct {
		values string
		// wantInError is part of the schema violation helm must report.
		wantInError string
	}{
		"replicas as a string":         {values: `replicas: "two"`, wantInError: "/replicas"},
		"replicas zero":                {values: `replicas: 0`, wantInError: "/replicas"},
		"unknown top-level key":        {values: `replica: 2`, wantInError: "'replica' not allowed"},
		"unknown nested key":           {values: "image:\n  pullpolicy: Always", wantInError: "'pullpolicy' not allowed"},
		"boolean as a string":          {values: "serviceMonitor:\n  enabled: \"yes\"", wantInError: "/serviceMonitor/enabled"},
		"unknown pull policy":          {values: "image:\n  pullPolicy: Sometimes", wantInError: "/image/pullPolicy"},
		"unknown log level":            {values: "logging:\n  level: verbose", wantInError: "/logging/level"},
		"dns selector as a map":        {values: "dns:\n  podSelector: {k8s-app: kube-dns}", wantInError: "/dns/podSelector"},
		"port out of range":            {values: "networkPolicy:\n  apiServer:\n    ports: [70000]", wantInError: "/networkPolicy/apiServer/ports/0"},
		"extra arg without dash":       {values: "extraArgs: [leader-elect]", wantInError: "/extraArgs/0"},
		"digest without algorithm":     {values: "image:\n  digest: abc123", wantInError: "/image/digest"},
		"scraper namespace not a name": {values: "syncMetrics:\n  scraperNamespace: Monitoring", wantInError: "/syncMetrics/scraperNamespace"},
		"scraper selector not k=v":     {values: "syncMetrics:\n  scraperPodSelector: prometheus", wantInError: "/syncMetrics/scraperPodSelector"},
		"crds.keep as a string":        {values: "crds:\n  keep: \"no\"", wantInError: "/crds/keep"},
		"podMonitor typo":              {values: "podMonitor:\n  enable: true", wantInError: "'enable' not allowed"},
		"unknown BAA system":           {values: "dataPolicy:\n  baaCoveredSystems: [salesforce]", wantInError: "/dataPolicy/baaCoveredSystems/0"},
		// A ClusterRole labelled so would hand the manager's grants to every holder of admin.
		"common label aggregating the roles": {values: "commonLabels:\n  rbac.authorization.k8s.io/aggregate-to-admin: \"true\"", wantInError: "invalid propertyName 'rbac.authorization.k8s.io/aggregate-to-admin'"},
		"common label of the chart's own":    {values: "commonLabels:\n  app.kubernetes.io/name: other", wantInError: "invalid propertyName 'app.kubernetes.io/name'"},
		"common label not a string":          {values: "commonLabels:\n  example.com/tier: 1", wantInError: "/commonLabels/example.com~1tier"},
	}
	dir := t.TempDir()
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
			if err := os.WriteFile(f, []byte(tc.values+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := helmTemplateErr(t, kustomizeNamespace, "--values", f)
			if err == nil {
				t.Fatalf("helm template accepted %q; rendered %d bytes", tc.values, len(out))
			}
			msg := err.Error()
			if !strings.Contains(msg, "don't meet the specifications of the schema") || !strings.Contains(msg, tc.wantInError) {
				t.Fatalf("helm template failed, but not with a schema violation at %q:\n%s", tc.wantInError, msg)
			}
		})
	}
}

func TestChartOptionalObjects(t *testing.T) {
	tests := map[string]struct {
		extra       []string
		wantPresent []string // kind/name
		wantAbsent  []string
	}{
		"defaults: one replica, no PodDisruptionBudget, no ServiceMonitor, NetworkPolicy and admission policies on": {
			wantPresent: append([]string{"NetworkPolicy/tenantwire-manager", "Deployment/tenantwire-manager", "Service/tenantwire-metrics"}, admissionObjects...),
			wantAbsent:  []string{"PodDisruptionBudget/tenantwire-manager", "ServiceMonitor/tenantwire-manager", "PodMonitor/tenantwire-sync", "PrometheusRule/tenantwire"},
		},
		"options: two replicas with a PodDisruptionBudget, ServiceMonitor, PodMonitor, PrometheusRule": {
			extra: []string{"--values", optionsValues},
			wantPresent: []string{"PodDisruptionBudget/tenantwire-manager", "ServiceMonitor/tenantwire-manager", "NetworkPolicy/tenantwire-manager",
				"PodMonitor/tenantwire-sync", "PrometheusRule/tenantwire"},
		},
		"NetworkPolicy off": {
			extra:      []string{"--set", "networkPolicy.enabled=false"},
			wantAbsent: []string{"NetworkPolicy/tenantwire-manager"},
		},
		"admission policies off": {
			extra:       []string{"--set", "admission.enabled=false"},
			wantPresent: []string{"Deployment/tenantwire-manager"},
			wantAbsent:  admissionObjects,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objs := decodeAll(t, helmTemplate(t, kustomizeNamespace, tc.extra...))
			for _, kn := range tc.wantPresent {
				kind, n, _ := strings.Cut(kn, "/")
				if find(objs, kind, n) == nil {
					t.Errorf("%s is missing", kn)
				}
			}
			for _, kn := range tc.wantAbsent {
				kind, n, _ := strings.Cut(kn, "/")
				if find(objs, kind, n) != nil {
					t.Errorf("%s is rendered", kn)
				}
			}
			if pdb := find(objs, "PodDisruptionBudget", "tenantwire-manager"); pdb != nil {
				if v, _, _ := unstructured.NestedFieldNoCopy(pdb.Object, "spec", "minAvailable"); fmt.Sprint(v) != "1" {
					t.Errorf("PodDisruptionBudget minAvailable = %v, want 1", v)
				}
			}
		})
	}
}

// The manager must run leader election always, and hand its own image to the sync workloads.
func TestManagerDeployment(t *testing.T) {
	tests := map[string]struct {
		render    func(t *testing.T) []byte
		wantImage string
	}{
		"chart, default values": {
			render:    func(t *testing.T) []byte { return helmTemplate(t, kustomizeNamespace) },
			wantImage: "tenantwire:dev",
		},
		"chart, options values": {
			render:    func(t *testing.T) []byte { return helmTemplate(t, kustomizeNamespace, "--values", optionsValues) },
			wantImage: "registry.example/tenantwire:v0.1.0",
		},
		"kustomize config/default": {
			render:    func(t *testing.T) []byte { return kustomizeBuild(t, "config/default") },
			wantImage: "tenantwire:dev",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := find(decodeAll(t, tc.render(t)), "Deployment", "tenantwire-manager")
			if d == nil {
				t.Fatal("no Deployment tenantwire-manager")
			}
			containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
			if len(containers) != 1 {
				t.Fatalf("%d containers, want 1", len(containers))
			}
			c := containers[0].(map[string]any)
			if c["image"] != tc.wantImage {
				t.Errorf("image %v, want %s", c["image"], tc.wantImage)
			}
			args, _, _ := unstructured.NestedStringSlice(c, "args")
			if len(args) == 0 || args[0] != "manager" {
				t.Errorf("args %q do not start with the manager subcommand", args)
			}
			if !slices.Contains(args, "--leader-elect") {
				t.Errorf("args %q lack --leader-elect", args)
			}
			var syncImages []string
			for _, a := range args {
				if v, ok := strings.CutPrefix(a, "--sync-image="); ok {
					syncImages = append(syncImages, v)
				}
			}
			if !slices.Equal(syncImages, []string{tc.wantImage}) {
				t.Errorf("--sync-image values %q, want exactly [%s]", syncImages, tc.wantImage)
			}
		})
	}
}

// The chart hands the platform's BAA coverage and the API server's endpoints for token write-back
// to the manager in a form its flags accept.
func TestChartPlatformPolicyFlags(t *testing.T) {
	d := find(decodeAll(t, helmTemplate(t, kustomizeNamespace, "--values", optionsValues)), "Deployment", "tenantwire-manager")
	if d == nil {
		t.Fatal("no Deployment tenantwire-manager")
	}
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	var policy []string
	for _, a := range args {
		if strings.HasPrefix(a, "--baa-covered-systems=") || strings.HasPrefix(a, "--api-server-egress=") {
			policy = append(policy, a)
		}
	}
	want := []string{"--baa-covered-systems=zoho,gohighlevel", "--api-server-egress=10.96.0.1/32:443,172.18.0.2/32:6443"}
	if !slices.Equal(policy, want) {
		t.Fatalf("platform policy args %q, want exactly %q", policy, want)
	}
	fs := flag.NewFlagSet("tenantwire manager", flag.ContinueOnError)
	var o manager.Options
	o.BindFlags(fs)
	if err := fs.Parse(policy); err != nil {
		t.Fatalf("the manager refuses the chart's flags: %v", err)
	}
	if got := o.BAACovered.String(); got != "zoho,gohighlevel" {
		t.Errorf("the manager read coverage %q", got)
	}
	if !slices.Equal(o.APIServerEgress, []string{"10.96.0.1/32:443", "172.18.0.2/32:6443"}) {
		t.Errorf("the manager read API server egress %q", o.APIServerEgress)
	}
}

// Nothing in the chart may assume the kustomize namespace: everything lands in the release namespace.
func TestChartUsesReleaseNamespace(t *testing.T) {
	const ns = "platform-operators"
	out := helmTemplate(t, ns, "--values", optionsValues)
	if bytes.Contains(out, []byte(kustomizeNamespace)) {
		t.Errorf("rendered into %s, the chart still mentions %s", ns, kustomizeNamespace)
	}
	for _, o := range decodeAll(t, out) {
		if isClusterScoped(o.GetKind()) {
			if o.GetNamespace() != "" {
				t.Errorf("cluster-scoped %s %s has namespace %q", o.GetKind(), o.GetName(), o.GetNamespace())
			}
		} else if o.GetNamespace() != ns {
			t.Errorf("%s %s is in namespace %q, want %s", o.GetKind(), o.GetName(), o.GetNamespace(), ns)
		}
		subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
		for _, s := range subjects {
			if sub := s.(map[string]any); sub["kind"] == "ServiceAccount" && sub["namespace"] != ns {
				t.Errorf("%s %s binds ServiceAccount %v in namespace %v, want %s", o.GetKind(), o.GetName(), sub["name"], sub["namespace"], ns)
			}
		}
	}
}

func isClusterScoped(kind string) bool {
	switch kind {
	case "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Namespace",
		"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
		return true
	}
	return false
}
