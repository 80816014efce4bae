// Package childcachetest holds code that reads cached objects to the childcache Contracts: a test
// fills the fields the cache drops, and checks that the code decides as it does from the cached
// object. Code that reads a dropped field then fails in a test rather than in production.
package childcachetest

import (
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/randfill"

	"github.com/tenantwire/tenantwire/internal/childcache"
)

// FillEveryField sets every field of obj, recursively, to a value derived from seed: no pointer is
// nil, no map or list empty and no bool false. Its TypeMeta stays empty.
func FillEveryField(obj client.Object, seed int64) {
	randfill.NewWithSeed(seed).NilChance(0).NumElements(1, 2).Funcs(
		func(q *resource.Quantity, c randfill.Continue) {
			*q = *resource.NewQuantity(c.Int63n(1000)+1, resource.DecimalSI)
		},
		func(t *metav1.Time, c randfill.Continue) {
			*t = metav1.NewTime(time.Unix(c.Int63n(1<<31)+1, 0).UTC())
		},
		func(t *metav1.MicroTime, c randfill.Continue) {
			*t = metav1.NewMicroTime(time.Unix(c.Int63n(1<<31)+1, 0).UTC())
		},
		func(j *apiextensionsv1.JSON, c randfill.Continue) {
			j.Raw = fmt.Appendf(nil, `{"n":%d}`, c.Int63n(1000))
		},
		func(e *runtime.RawExtension, c randfill.Continue) {
			e.Raw = fmt.Appendf(nil, `{"n":%d}`, c.Int63n(1000))
		},
		func(tm *metav1.TypeMeta, _ randfill.Continue) {},
		// A false is indistinguishable from a dropped field.
		func(b *bool, _ randfill.Continue) { *b = true },
		func(f *[]metav1.ManagedFieldsEntry, c randfill.Continue) {
			*f = []metav1.ManagedFieldsEntry{{Manager: c.String(8), Operation: metav1.ManagedFieldsOperationApply,
				FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{}}`)}}}
		},
	).Fill(obj)
}

// FillDropped returns a copy of cached, an object as the cache holds it, in which every field the
// cache drops holds a value derived from seed. Code that reads only what its kind's Contract keeps
// decides from the copy as it does from cached; code that reads a dropped field reads the filler.
func FillDropped(cached client.Object, scheme *runtime.Scheme, seed int64) (client.Object, error) {
	gvk, err := apiutil.GVKForObject(cached, scheme)
	if err != nil {
		return nil, err
	}
	filled := cached.DeepCopyObject().(client.Object)
	FillEveryField(filled, seed)
	dst, err := runtime.DefaultUnstructuredConverter.ToUnstructured(filled)
	if err != nil {
		return nil, err
	}
	src, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cached)
	if err != nil {
		return nil, err
	}
	overlay(dst, src, "", func(path string) (childcache.Fate, bool) {
		return childcache.FateOf(gvk.GroupKind(), path), childcache.Beneath(gvk.GroupKind(), path)
	})
	out := cached.DeepCopyObject().(client.Object)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(dst, out); err != nil {
		return nil, err
	}
	return out, nil
}

// overlay puts into dst every field of src that the cache does not drop, so that dst's remaining
// fields are those the cache drops.
func overlay(dst, src map[string]any, prefix string, fate func(string) (childcache.Fate, bool)) {
	keys := map[string]bool{}
	for k := range dst {
		keys[k] = true
	}
	for k := range src {
		keys[k] = true
	}
	for k := range keys {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		f, beneath := fate(path)
		d, dIsMap := dst[k].(map[string]any)
		s, sIsMap := src[k].(map[string]any)
		switch {
		case beneath && dIsMap:
			if !sIsMap {
				s = map[string]any{}
			}
			overlay(d, s, path, fate)
		case f == childcache.Dropped:
		case src[k] == nil:
			delete(dst, k)
		default:
			dst[k] = src[k]
		}
	}
}
