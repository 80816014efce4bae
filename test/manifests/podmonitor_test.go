package manifests

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/controllers/integration"
)

// The PodMonitor (chart and config/prometheus) selects the sync pods the Integration controller
// renders, by the labels it really gives them, and scrapes their named metrics port.
func TestPodMonitorSelectsTheSyncPods(t *testing.T) {
	// The samples users apply: the Integration's pods as the controller renders them.
	tn, in := &twv1.Tenant{}, &twv1.Integration{}
	for obj, file := range map[any]string{tn: "config/samples/tenantwire_v1alpha1_tenant.yaml", in: "config/samples/tenantwire_v1alpha1_integration.yaml"} {
		if err := yaml.Unmarshal(readFile(t, file), obj); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	objs, err := integration.DesiredObjects(in, tn, "tenantwire:dev", "hash", "")
	if err != nil {
		t.Fatal(err)
	}
	var sync *appsv1.Deployment
	for _, o := range objs {
		if d, ok := o.(*appsv1.Deployment); ok {
			sync = d
		}
	}
	if sync == nil {
		t.Fatal("no sync Deployment")
	}
	metricsPort := ""
	for _, p := range sync.Spec.Template.Spec.Containers[0].Ports {
		if p.ContainerPort == integration.MetricsPort {
			metricsPort = p.Name
		}
	}
	// Export Job pods run once and serve no metrics: the selector leaves them out.
	exportLabels := labels.Set{"app.kubernetes.io/name": "tenantwire-export", "app.kubernetes.io/managed-by": "tenantwire"}

	monitors := map[string]*unstructured.Unstructured{
		"chart":             find(decodeAll(t, helmTemplate(t, kustomizeNamespace, "--set", "podMonitor.enabled=true")), "PodMonitor", "tenantwire-sync"),
		"config/prometheus": find(decodeAll(t, kustomizeBuild(t, "config/prometheus")), "PodMonitor", "tenantwire-sync"),
	}
	for name, pm := range monitors {
		t.Run(name, func(t *testing.T) {
			if pm == nil {
				t.Fatal("no PodMonitor tenantwire-sync")
			}
			sel := &metav1.LabelSelector{}
			raw, _, _ := unstructured.NestedMap(pm.Object, "spec", "selector")
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, sel); err != nil {
				t.Fatal(err)
			}
			selector, err := metav1.LabelSelectorAsSelector(sel)
			if err != nil {
				t.Fatal(err)
			}
			if !selector.Matches(labels.Set(sync.Spec.Template.Labels)) {
				t.Errorf("selector %s does not match the sync pod labels %v", selector, sync.Spec.Template.Labels)
			}
			if selector.Matches(exportLabels) {
				t.Errorf("selector %s matches export Job pods", selector)
			}
			if any, _, _ := unstructured.NestedBool(pm.Object, "spec", "namespaceSelector", "any"); !any {
				t.Error("namespaceSelector is not any: tenant namespaces are created at run time")
			}
			endpoints, _, _ := unstructured.NestedSlice(pm.Object, "spec", "podMetricsEndpoints")
			if len(endpoints) != 1 || endpoints[0].(map[string]any)["port"] != metricsPort || metricsPort == "" {
				t.Errorf("endpoints %v, want the sync container's metrics port %q", endpoints, metricsPort)
			}
		})
	}
}
