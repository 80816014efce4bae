package manifests

import (
	"reflect"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// admissionObjects are the admission policies and their bindings (kind/name) both installs ship;
// test/admission proves what they enforce.
var admissionObjects = func() []string {
	var objs []string
	for _, name := range []string{"tenantwire-tenant-workloads", "tenantwire-tenant-pods", "tenantwire-tenant-identities",
		"tenantwire-tenant-namespace-deletion", reachPolicy} {
		objs = append(objs, "ValidatingAdmissionPolicy/"+name, "ValidatingAdmissionPolicyBinding/"+name)
	}
	return objs
}()

// admissionSpecs are the specs of the admission objects of one install, by kind/name.
func admissionSpecs(objs []*unstructured.Unstructured) map[string]any {
	specs := map[string]any{}
	for _, o := range objs {
		if key := o.GetKind() + "/" + o.GetName(); slices.Contains(admissionObjects, key) {
			specs[key] = o.Object["spec"]
		}
	}
	return specs
}

// The chart's policies are generated from config/admission (hack/sync-chart-rbac.sh); rendered into
// the kustomize namespace, they must be the kustomize ones to the letter, CEL included.
func TestAdmissionPoliciesIdenticalInChartAndKustomize(t *testing.T) {
	want := admissionSpecs(decodeAll(t, kustomizeBuild(t, "config/default")))
	if len(want) != len(admissionObjects) {
		t.Fatalf("kustomize config/default ships %d of the %d admission objects", len(want), len(admissionObjects))
	}
	for name, extra := range map[string][]string{"default values": nil, "options values": {"--values", optionsValues}} {
		t.Run("chart, "+name, func(t *testing.T) {
			got := admissionSpecs(decodeAll(t, helmTemplate(t, kustomizeNamespace, extra...)))
			for _, key := range admissionObjects {
				if !reflect.DeepEqual(got[key], want[key]) {
					t.Errorf("%s differs (run make manifests):\nchart:\n%s\nkustomize:\n%s", key, toYAML(got[key]), toYAML(want[key]))
				}
			}
		})
	}
}

// kustomize has no namespace transformer in config/default (it would put the cluster-scoped
// admission policies in a namespace), so every object must name its namespace itself.
func TestKustomizeNamespaces(t *testing.T) {
	for _, o := range decodeAll(t, kustomizeBuild(t, "config/default")) {
		want := kustomizeNamespace
		if isClusterScoped(o.GetKind()) {
			want = ""
		}
		if o.GetNamespace() != want {
			t.Errorf("%s %s is in namespace %q, want %q", o.GetKind(), o.GetName(), o.GetNamespace(), want)
		}
	}
}
