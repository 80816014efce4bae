package childcache_test

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	esv1alpha1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/childcache"
	"github.com/tenantwire/tenantwire/internal/childcache/childcachetest"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/labels"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
)

// TestSlimKeepsExactlyTheContract fills every field of each cached kind, runs the cache's
// transform, and checks the result against the kind's Contract: a kept field survives unchanged,
// a dropped field is gone, and only a narrowed field may differ. A change to Slim that keeps or
// drops one field more fails here until the Contract says so.
func TestSlimKeepsExactlyTheContract(t *testing.T) {
	credential := func(s *corev1.Secret) {
		s.Labels[labels.Component] = labels.CredentialsComponent
		s.Labels[labels.Integration] = "crm"
		s.Labels["reconcile.external-secrets.io/managed"] = "true"
	}
	keyringSecret := func(s *corev1.Secret) {
		s.Annotations[keyring.ActiveVersionAnnotation] = "3"
	}
	objects := map[string]struct {
		obj client.Object
		mut func(*corev1.Secret)
	}{
		"Deployment":          {obj: &appsv1.Deployment{}},
		"ExternalSecret":      {obj: &esv1.ExternalSecret{}},
		"PushSecret":          {obj: &esv1alpha1.PushSecret{}},
		"credential Secret":   {obj: &corev1.Secret{}, mut: credential},
		"keyring Secret":      {obj: &corev1.Secret{}, mut: keyringSecret},
		"other Secret":        {obj: &corev1.Secret{}},
		"Job (not narrowed)":  {obj: &batchv1.Job{}},
		"Namespace":           {obj: &corev1.Namespace{}},
		"Integration (ours)":  {obj: &twv1.Integration{}},
		"Tenant (ours)":       {obj: &twv1.Tenant{}},
		"a Deployment, twice": {obj: &appsv1.Deployment{}},
	}
	scheme := twscheme.New()
	transform := childcache.Options().DefaultTransform
	seen := map[string]bool{}
	ran := map[schema.GroupKind]bool{}
	for name, tc := range objects {
		for seed := int64(1); seed <= 5; seed++ {
			t.Run(fmt.Sprintf("%s/%d", name, seed), func(t *testing.T) {
				full := tc.obj.DeepCopyObject().(client.Object)
				childcachetest.FillEveryField(full, seed)
				if s, ok := full.(*corev1.Secret); ok && tc.mut != nil {
					tc.mut(s)
				}
				gvk, err := apiutil.GVKForObject(full, scheme)
				if err != nil {
					t.Fatal(err)
				}
				want := leaves(t, full)
				slim, err := transform(full.DeepCopyObject())
				if err != nil {
					t.Fatal(err)
				}
				if strings.HasSuffix(name, "twice") {
					if slim, err = transform(slim); err != nil {
						t.Fatal(err)
					}
				}
				got := leaves(t, slim.(runtime.Object))
				gk := gvk.GroupKind()
				ran[gk] = true
				for path, v := range want {
					switch childcache.FateOf(gk, path) {
					case childcache.Kept:
						markKept(seen, gk, path)
						if !reflect.DeepEqual(got[path], v) {
							t.Errorf("kept field %s: cached %v, want %v", path, got[path], v)
						}
					case childcache.Dropped:
						if g, ok := got[path]; ok {
							t.Errorf("field %s survives in the cache (%v), but its Contract drops it: add it to the Contract or drop it in Slim", path, g)
						}
					}
				}
				for path, v := range got {
					if _, ok := want[path]; !ok && childcache.FateOf(gk, path) != childcache.Narrowed {
						t.Errorf("field %s appears in the cache (%v) without a narrowed rule", path, v)
					}
				}
			})
		}
	}
	// A Contract names only fields its kind has: each kept path was filled and survived.
	for gk, c := range childcache.Contracts {
		if !ran[gk] {
			continue
		}
		for _, k := range c.Kept {
			if _, narrowed := c.Narrowed[k]; !narrowed && !seen[gk.String()+" "+k] {
				t.Errorf("%s: kept path %s matches no field of the filled object", gk, k)
			}
		}
	}
}

// TestReal: Real answers from the Contracts, for kept, narrowed and dropped fields, and for the
// kinds the cache keeps whole.
func TestReal(t *testing.T) {
	cases := map[string]struct {
		kind, path string
		real       bool
	}{
		"replicas":                         {"Deployment", "spec.replicas", true},
		"pod template annotations":         {"Deployment", "spec.template.metadata.annotations", true},
		"available replicas":               {"Deployment", "status.availableReplicas", true},
		"conditions are narrowed":          {"Deployment", "status.conditions", false},
		"selector is dropped":              {"Deployment", "spec.selector", false},
		"pod spec is dropped":              {"Deployment", "spec.template.spec.containers", false},
		"annotations are dropped":          {"Deployment", "metadata.annotations", false},
		"ExternalSecret status":            {"ExternalSecret", "status.conditions", true},
		"ExternalSecret spec is dropped":   {"ExternalSecret", "spec.target", false},
		"PushSecret status is dropped":     {"PushSecret", "status.conditions", false},
		"PushSecret owners are kept":       {"PushSecret", "metadata.ownerReferences", true},
		"Secret data is narrowed":          {"Secret", "data", false},
		"Secret type":                      {"Secret", "type", true},
		"Job spec passes whole":            {"Job", "spec.template.spec", true},
		"managedFields are never cached":   {"Job", "metadata.managedFields", false},
		"Secret labels are narrowed":       {"Secret", "metadata.labels", false},
		"Deployment labels are kept":       {"Deployment", "metadata.labels", true},
		"a field beneath a kept one":       {"Deployment", "status.observedGeneration", true},
		"a path that only starts like one": {"Deployment", "spec.replicasX", false},
	}
	groups := map[string]string{"Deployment": "apps", "ExternalSecret": "external-secrets.io", "PushSecret": "external-secrets.io", "Secret": "", "Job": "batch"}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			gk := schema.GroupKind{Group: groups[tc.kind], Kind: tc.kind}
			if got := childcache.Real(gk, tc.path); got != tc.real {
				t.Errorf("Real(%s, %s) = %v, want %v", gk, tc.path, got, tc.real)
			}
		})
	}
}

// leaves flattens an object's JSON form into its fields by dotted path. A list is one field: the
// Contracts keep or drop lists whole.
func leaves(t *testing.T, obj runtime.Object) map[string]any {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, m[k])
			}
			return
		}
		if m, ok := v.(map[string]any); v == nil || ok && len(m) == 0 {
			// Zero: a struct without omitempty renders as an empty map.
			return
		}
		out[prefix] = v
	}
	delete(m, "apiVersion")
	delete(m, "kind")
	walk("", m)
	return out
}

// markKept records which kept rule of the kind a surviving field proves.
func markKept(seen map[string]bool, gk schema.GroupKind, path string) {
	for _, k := range childcache.Contracts[gk].Kept {
		if path == k || strings.HasPrefix(path, k+".") {
			seen[gk.String()+" "+k] = true
		}
	}
}
