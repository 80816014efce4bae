package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/childcache"
	"github.com/tenantwire/tenantwire/internal/memstats"
)

// BenchmarkCacheRetained reports the heap the manager's cache holds for the children of 1000
// tenants with 3 Integrations each, as the informers decode them and the cache transform leaves
// them: in total and by kind (MiB). "strip" caches every kind, as the manager did before some were
// only watched; "childcache" only the kinds it caches now (the watched ones are measured by
// internal/childcache's BenchmarkWatchRetained). It measures memory, not time; run it once:
//
//	go test ./test/bench -run '^$' -bench CacheRetained -benchtime 1x
//
// The objects are what the builders render, with what the API server and External Secrets
// Operator add (uid, resourceVersion, the applied-intent annotation, statuses, and the credential
// Secrets ESO syncs). "strip" only drops managedFields; "childcache" is the manager's transform.
func BenchmarkCacheRetained(b *testing.B) {
	const tenants, integrations = 1000, 3
	watched := map[string]bool{}
	for _, obj := range childcache.WatchedKinds {
		watched[reflect.TypeOf(obj).Elem().Name()] = true
	}
	transforms := []struct {
		name   string
		fn     toolscache.TransformFunc
		cached func(kind string) bool
	}{
		{"strip", cache.TransformStripManagedFields(), func(string) bool { return true }},
		{"childcache", childcache.Options().DefaultTransform, func(kind string) bool { return !watched[kind] }},
	}
	for _, tr := range transforms {
		b.Run(tr.name, func(b *testing.B) {
			for range b.N {
				byKind, total, err := retained(tenants, integrations, tr.fn, tr.cached)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(total/(1<<20), "MiB")
				kinds := make([]string, 0, len(byKind))
				for k := range byKind {
					kinds = append(kinds, k)
				}
				sort.Strings(kinds)
				var line strings.Builder
				for _, k := range kinds {
					fmt.Fprintf(&line, "\n  %-15s %7.2f MiB  %5d objects  %5.0f B each", k, byKind[k].bytes/(1<<20), byKind[k].count, byKind[k].bytes/float64(byKind[k].count))
				}
				b.Logf("%s: %.2f MiB retained%s", tr.name, total/(1<<20), line.String())
			}
		})
	}
}

// retained decodes and transforms the cached objects of every tenant kind by kind, and returns the
// live heap each kind adds (shared state, such as interned strings, counts for the kind that
// first needs it).
type kindRetained struct {
	bytes float64
	count int
}

func retained(tenants, integrations int, transform toolscache.TransformFunc, cached func(kind string) bool) (map[string]kindRetained, float64, error) {
	raw := map[string][][]byte{}
	for i := range tenants {
		objs, err := cachedObjects(i, integrations)
		if err != nil {
			return nil, 0, err
		}
		for _, o := range objs {
			j, err := json.Marshal(o)
			if err != nil {
				return nil, 0, err
			}
			if kind := reflect.TypeOf(o).Elem().Name(); cached(kind) {
				raw[kind] = append(raw[kind], j)
			}
		}
	}
	byKind := map[string]kindRetained{}
	var total float64
	var kept []any
	kinds := make([]string, 0, len(raw))
	for k := range raw {
		kinds = append(kinds, k)
	}
	// Kinds in a fixed order, so that shared state is paid for by the same kind in every run.
	sort.Strings(kinds)
	for _, kind := range kinds {
		objs := raw[kind]
		typ := reflect.TypeOf(sampleOf(kind))
		before := memstats.LiveHeap()
		for _, j := range objs {
			o := reflect.New(typ.Elem()).Interface()
			if err := json.Unmarshal(j, o); err != nil {
				return nil, 0, err
			}
			t, err := transform(o)
			if err != nil {
				return nil, 0, err
			}
			kept = append(kept, t)
		}
		grown := float64(memstats.LiveHeap() - before)
		byKind[kind] = kindRetained{bytes: grown, count: len(objs)}
		total += grown
	}
	runtime.KeepAlive(kept)
	return byKind, total, nil
}

var samples = map[string]client.Object{}

func sampleOf(kind string) client.Object { return samples[kind] }

// cachedObjects renders one tenant's children as the cache receives them.
func cachedObjects(i, integrations int) ([]client.Object, error) {
	t := benchTenant("bench", i)
	t.UID = uid("tenant", i, 0)
	objs, err := renderTenant(t, integrations, func(in *twv1.Integration, j int) { in.UID = uid("integration", i, j) },
		"0123456789abcdef0123456789abcdef", "2")
	if err != nil {
		return nil, err
	}
	var synced []client.Object
	for n, o := range objs {
		serverMeta(o, i, n)
		switch o := o.(type) {
		case *appsv1.Deployment:
			o.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, UpdatedReplicas: 1,
				Conditions: []appsv1.DeploymentCondition{
					{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability."},
					{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", Message: fmt.Sprintf(`ReplicaSet "%s-6d4cf56db6" has successfully progressed.`, o.Name)},
				}}
		case *esv1.ExternalSecret:
			o.Status = esv1.ExternalSecretStatus{SyncedResourceVersion: "1-0123456789abcdef", Binding: corev1.LocalObjectReference{Name: o.Name},
				Conditions: []esv1.ExternalSecretStatusCondition{{Type: esv1.ExternalSecretReady, Status: corev1.ConditionTrue, Reason: "SecretSynced", Message: "secret synced"}}}
			synced = append(synced, syncedSecret(o, i, n))
		}
	}
	objs = append(objs, synced...)
	for _, o := range objs {
		samples[reflect.TypeOf(o).Elem().Name()] = o
	}
	return objs, nil
}

// serverMeta adds what the API server and our applier put on every child.
func serverMeta(o client.Object, i, n int) {
	o.SetUID(uid("child", i, n))
	o.SetResourceVersion(fmt.Sprint(100000 + i*100 + n))
	o.SetGeneration(1)
	o.SetCreationTimestamp(metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	a := o.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a["tenantwire.io/applied-intent"] = fmt.Sprintf("%024x", i*100+n)
	o.SetAnnotations(a)
}

// syncedSecret is the Secret External Secrets Operator writes for an ExternalSecret.
func syncedSecret(es *esv1.ExternalSecret, i, n int) *corev1.Secret {
	l := map[string]string{"reconcile.external-secrets.io/managed": "true",
		"reconcile.external-secrets.io/created-by": fmt.Sprintf("%056x", i)}
	if es.Spec.Target.Template != nil {
		for k, v := range es.Spec.Target.Template.Metadata.Labels {
			l[k] = v
		}
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: es.Namespace, Name: es.Spec.Target.Name, Labels: l,
			Annotations: map[string]string{"reconcile.external-secrets.io/data-hash": fmt.Sprintf("%032x", i*100+n)},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: esv1.SchemeGroupVersion.String(), Kind: esv1.ExtSecretKind,
				Name: es.Name, UID: es.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			"client_id":     fmt.Appendf(nil, "bench-client-%08d-%02d", i, n),
			"client_secret": fmt.Appendf(nil, "%048x", i*100+n),
			"refresh_token": fmt.Appendf(nil, "%096x", i*100+n),
		},
	}
	serverMeta(s, i, 50+n)
	delete(s.Annotations, "tenantwire.io/applied-intent")
	return s
}

func uid(kind string, i, j int) types.UID {
	return types.UID(fmt.Sprintf("%08x-0000-4000-8000-%012x", len(kind)<<24|i, j))
}
