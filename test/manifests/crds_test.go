package manifests

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/tenantwire/tenantwire/internal/testenv"
)

// configCRDs are the generated CRDs of config/crd/bases, by name.
func configCRDs(t *testing.T) map[string]*unstructured.Unstructured {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in config/crd/bases (%v)", err)
	}
	crds := map[string]*unstructured.Unstructured{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range decodeAll(t, data) {
			crds[o.GetName()] = o
		}
	}
	return crds
}

func crdsOf(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	crds := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			crds[o.GetName()] = o
		}
	}
	return crds
}

// The chart renders the generated CRDs as templates, so `helm upgrade` upgrades them (Helm never
// upgrades files in crds/); crds.keep keeps them on uninstall, crds.enabled=false leaves them to
// whoever else manages them.
func TestChartCRDs(t *testing.T) {
	const keep = "helm.sh/resource-policy"
	want := configCRDs(t)
	tests := map[string]struct {
		extra    []string
		wantCRDs bool
		wantKeep bool
	}{
		"defaults: CRDs rendered and kept": {wantCRDs: true, wantKeep: true},
		"crds.keep=false":                  {extra: []string{"--set", "crds.keep=false"}, wantCRDs: true},
		"crds.enabled=false":               {extra: []string{"--set", "crds.enabled=false"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := crdsOf(decodeAll(t, helmTemplate(t, kustomizeNamespace, tc.extra...)))
			if !tc.wantCRDs {
				if len(got) != 0 {
					t.Errorf("%d CRDs rendered, want none", len(got))
				}
				return
			}
			if len(got) != len(want) {
				t.Errorf("%d CRDs rendered, config/crd/bases has %d: run make manifests", len(got), len(want))
			}
			for n, w := range want {
				g := got[n]
				if g == nil {
					t.Errorf("CRD %s is not rendered: run make manifests", n)
					continue
				}
				if !reflect.DeepEqual(g.Object["spec"], w.Object["spec"]) {
					t.Errorf("CRD %s: spec differs from config/crd/bases: run make manifests", n)
				}
				if v, ok := g.GetAnnotations()[keep]; tc.wantKeep != ok || (ok && v != "keep") {
					t.Errorf("CRD %s: annotation %s=%q (present %v), want present %v", n, keep, v, ok, tc.wantKeep)
				}
				if g.GetLabels()["app.kubernetes.io/name"] != "tenantwire" {
					t.Errorf("CRD %s: labels %v lack the chart's", n, g.GetLabels())
				}
			}
		})
	}
	// The crds/ directory is installed once and never upgraded; CRDs there would shadow the templates.
	if _, err := os.Stat(filepath.Join(root, chartDir, "crds")); !os.IsNotExist(err) {
		t.Errorf("%s/crds exists (%v): the CRDs are templates now", chartDir, err)
	}
}

// Argo CD and Flux must never prune the CRDs of the kustomize install: deleting a CRD deletes every
// Tenant with it. Both honour an annotation on the object.
func TestKustomizeCRDsAreNotPruned(t *testing.T) {
	wantAnnotations := map[string]string{
		"argocd.argoproj.io/sync-options":   "Prune=false",
		"kustomize.toolkit.fluxcd.io/prune": "disabled",
	}
	want := configCRDs(t)
	for _, dir := range []string{"config/crd", "config/default"} {
		t.Run(dir, func(t *testing.T) {
			got := crdsOf(decodeAll(t, kustomizeBuild(t, dir)))
			if len(got) != len(want) {
				t.Errorf("%d CRDs, want %d", len(got), len(want))
			}
			for n, crd := range got {
				for k, v := range wantAnnotations {
					if crd.GetAnnotations()[k] != v {
						b, _ := yaml.Marshal(crd.GetAnnotations())
						t.Errorf("CRD %s: annotation %s is not %q; annotations:\n%s", n, k, v, b)
					}
				}
			}
		})
	}
}

// installerPrunes says which CRDs an installer deletes when the operator leaves its source (helm
// uninstall, a GitOps prune): those without the annotation that installer honours.
type installerPrunes struct {
	name       string
	render     func(t *testing.T) []byte
	annotation string
	keepValue  string
}

// TestFaultMatrixCRDsDeletedByTheInstaller is the "CRDs deleted via the installer" row of the
// fault matrix (docs/operations.md, "Fault matrix"): every installer that can delete the CRDs
// (and with them every Tenant, whose deletion starts its offboarding) is shown the rendered CRDs,
// and none may be one it deletes.
func TestFaultMatrixCRDsDeletedByTheInstaller(t *testing.T) {
	chart := func(t *testing.T) []byte { return helmTemplate(t, kustomizeNamespace) }
	// dist/install.yaml is config/default built with the image set (make build-installer).
	install := func(t *testing.T) []byte { return kustomizeBuild(t, "config/default") }
	installers := []installerPrunes{
		{name: "helm uninstall", render: chart, annotation: "helm.sh/resource-policy", keepValue: "keep"},
		{name: "Argo CD prune of the chart", render: chart, annotation: "argocd.argoproj.io/sync-options", keepValue: "Prune=false"},
		{name: "Flux prune of the rendered chart", render: chart, annotation: "kustomize.toolkit.fluxcd.io/prune", keepValue: "disabled"},
		{name: "Argo CD prune of dist/install.yaml", render: install, annotation: "argocd.argoproj.io/sync-options", keepValue: "Prune=false"},
		{name: "Flux prune of dist/install.yaml", render: install, annotation: "kustomize.toolkit.fluxcd.io/prune", keepValue: "disabled"},
	}
	want := len(configCRDs(t))
	var kept []string
	for _, in := range installers {
		t.Run(in.name, func(t *testing.T) {
			crds := crdsOf(decodeAll(t, in.render(t)))
			if len(crds) != want {
				t.Fatalf("%d CRDs rendered, want %d", len(crds), want)
			}
			for name, crd := range crds {
				if crd.GetAnnotations()[in.annotation] != in.keepValue {
					t.Errorf("%s deletes CRD %s (no %s: %s), and every object of its kind with it", in.name, name, in.annotation, in.keepValue)
				}
			}
			if !t.Failed() {
				kept = append(kept, in.name)
			}
		})
	}
	testenv.CheckFaultRows(t, []testenv.FaultRow{{Fault: "CRDs deleted via the installer",
		Outcome: fmt.Sprintf("no CRD is deleted, so no Tenant is: the rendered CRDs carry what each installer honours (%s)", strings.Join(kept, ", ")),
		Test:    t.Name()}})
}
