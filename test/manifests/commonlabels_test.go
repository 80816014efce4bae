package manifests

import (
	"maps"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// commonLabels reach every object the chart renders, CRDs, RBAC, admission policies and monitors
// included, and the manager's pods, where podLabels win a key both set.
func TestChartCommonLabelsOnEveryObject(t *testing.T) {
	common := map[string]string{"example.com/team": "finance", "example.com/cost-centre": "42"}
	objs := decodeAll(t, helmTemplate(t, kustomizeNamespace, "--values", optionsValues))
	kinds := map[string]bool{}
	for _, o := range objs {
		kinds[o.GetKind()] = true
		labels := o.GetLabels()
		for k, v := range common {
			if labels[k] != v {
				t.Errorf("%s %s: label %s = %q, want %q", o.GetKind(), o.GetName(), k, labels[k], v)
			}
		}
	}
	for _, kind := range []string{"CustomResourceDefinition", "ClusterRole", "ValidatingAdmissionPolicy", "Deployment", "ServiceMonitor", "PrometheusRule", "Pod"} {
		if !kinds[kind] {
			t.Errorf("no %s rendered: the options values no longer cover every kind of object", kind)
		}
	}
	d := find(objs, "Deployment", "tenantwire-manager")
	if d == nil {
		t.Fatal("no Deployment tenantwire-manager")
	}
	pod, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "metadata", "labels")
	want := maps.Clone(common)
	want["example.com/team"] = "platform"
	for k, v := range want {
		if pod[k] != v {
			t.Errorf("manager pod label %s = %q, want %q", k, pod[k], v)
		}
	}
}
