package manifests

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const helmHookAnnotation = "helm.sh/hook"

// `helm test` runs `tenantwire check-api` from the manager's image, as a ServiceAccount that
// nothing binds: the check reads discovery only. Nothing else is a hook, so the hooks grant nothing.
func TestChartHelmTestChecksTheAPI(t *testing.T) {
	tests := map[string]struct {
		extra           []string
		wantImage       string
		wantPullSecrets bool
	}{
		"default values": {wantImage: "tenantwire:dev"},
		"options values": {extra: []string{"--values", optionsValues}, wantImage: "registry.example/tenantwire:v0.1.0", wantPullSecrets: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objs := decodeAll(t, helmTemplate(t, kustomizeNamespace, tc.extra...))
			var hooks []string
			for _, o := range objs {
				if hook, ok := o.GetAnnotations()[helmHookAnnotation]; ok {
					hooks = append(hooks, o.GetKind()+"/"+o.GetName()+" "+hook)
				}
				subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
				for _, s := range subjects {
					if s.(map[string]any)["name"] == "tenantwire-api-check" {
						t.Errorf("%s %s binds the API check's ServiceAccount", o.GetKind(), o.GetName())
					}
				}
			}
			slices.Sort(hooks)
			if want := []string{"Pod/tenantwire-api-check test", "ServiceAccount/tenantwire-api-check test"}; !slices.Equal(hooks, want) {
				t.Errorf("hooks %q, want %q", hooks, want)
			}
			pod := find(objs, "Pod", "tenantwire-api-check")
			if pod == nil {
				t.Fatal("no Pod tenantwire-api-check")
			}
			spec, _, _ := unstructured.NestedMap(pod.Object, "spec")
			if spec["serviceAccountName"] != "tenantwire-api-check" || spec["restartPolicy"] != "Never" {
				t.Errorf("serviceAccountName %v, restartPolicy %v; want tenantwire-api-check, Never", spec["serviceAccountName"], spec["restartPolicy"])
			}
			containers, _, _ := unstructured.NestedSlice(spec, "containers")
			if len(containers) != 1 {
				t.Fatalf("%d containers, want 1", len(containers))
			}
			c := containers[0].(map[string]any)
			args, _, _ := unstructured.NestedStringSlice(c, "args")
			if c["image"] != tc.wantImage || !slices.Equal(args, []string{"check-api", "--timeout=2m"}) {
				t.Errorf("image %v args %q, want %s [check-api --timeout=2m]", c["image"], args, tc.wantImage)
			}
			if _, ok := spec["imagePullSecrets"]; ok != tc.wantPullSecrets {
				t.Errorf("imagePullSecrets set = %v, want %v", ok, tc.wantPullSecrets)
			}
		})
	}
	objs := decodeAll(t, helmTemplate(t, kustomizeNamespace, "--set", "helmTest.enabled=false"))
	for _, o := range objs {
		if _, ok := o.GetAnnotations()[helmHookAnnotation]; ok {
			t.Errorf("helmTest.enabled=false still renders %s %s", o.GetKind(), o.GetName())
		}
	}
}
