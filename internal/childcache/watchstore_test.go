package childcache

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/memstats"
)

// recorded is what a listener heard: "create ns/name owner", "update ...", "delete ...".
type recorded []string

func (r *recorded) handler() handler.EventHandler {
	note := func(verb string, obj client.Object) {
		owner := ""
		if refs := obj.GetOwnerReferences(); len(refs) > 0 {
			owner = refs[0].Name
		}
		*r = append(*r, verb+" "+obj.GetNamespace()+"/"+obj.GetName()+" "+owner)
	}
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			note("create", e.Object)
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			note("update-from", e.ObjectOld)
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			note("delete", e.Object)
		},
	}
}

func partial(name, rv, owner string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-" + name),
		ResourceVersion: rv, Labels: map[string]string{"tenantwire.io/tenant": "t"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "tenantwire.io/v1alpha1", Kind: "Integration", Name: owner,
			UID: types.UID("uid-" + owner), Controller: ptr.To(true)}}}}
}

func newKindWatch() *kindWatch {
	return &kindWatch{gvk: rbacv1.SchemeGroupVersion.WithKind("Role"), synced: make(chan struct{}), children: map[client.ObjectKey]child{}}
}

// TestKindWatchTellsChangesOnly: the store tells listeners of new, changed and vanished children,
// and of nothing else: not of a relist that finds a child unchanged, nor of a repeated version.
// A deletion that only a relist discovers reaches the owner the child had.
func TestKindWatchTellsChangesOnly(t *testing.T) {
	k := newKindWatch()
	var heard recorded
	k.register(context.Background(), listener{handler: heard.handler()})
	steps := []struct {
		name string
		do   func() error
		want recorded
	}{
		{"first list", func() error { return k.Replace([]any{partial("a", "1", "x"), partial("b", "1", "y")}, "1") },
			recorded{"create ns/a x", "create ns/b y"}},
		{"an event at the version already known", func() error { return k.Update(partial("a", "1", "x")) }, nil},
		{"a change", func() error { return k.Update(partial("a", "2", "x")) }, recorded{"update-from ns/a x"}},
		{"a new child", func() error { return k.Add(partial("c", "1", "z")) }, recorded{"create ns/c z"}},
		{"a deletion", func() error { return k.Delete(partial("c", "1", "z")) }, recorded{"delete ns/c z"}},
		{"a relist: a unchanged, b gone while the watch was down, d new",
			func() error { return k.Replace([]any{partial("a", "2", "x"), partial("d", "1", "w")}, "5") },
			recorded{"create ns/d w", "delete ns/b y"}},
	}
	for _, s := range steps {
		heard = nil
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		slices.Sort(heard)
		slices.Sort(s.want)
		if !slices.Equal(heard, s.want) {
			t.Errorf("%s: heard %q, want %q", s.name, heard, s.want)
		}
	}
	select {
	case <-k.synced:
	default:
		t.Error("not synced after a list")
	}

	var late recorded
	k.register(context.Background(), listener{handler: late.handler()})
	slices.Sort(late)
	if want := (recorded{"create ns/a x", "create ns/d w"}); !slices.Equal(late, want) {
		t.Errorf("a listener registered late heard %q, want %q", late, want)
	}
}

// TestKindWatchStampsAndPredicates: the stamp follows the UID and resourceVersion; predicates
// filter per listener.
func TestKindWatchStampsAndPredicates(t *testing.T) {
	k := newKindWatch()
	w := &Watches{kinds: map[schema.GroupVersionKind]*kindWatch{k.gvk: k}}
	var heard recorded
	onlyA := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetName() == "a" })
	k.register(context.Background(), listener{handler: heard.handler(), predicates: []predicate.Predicate{onlyA}})
	key := client.ObjectKey{Namespace: "ns", Name: "a"}
	if _, _, err := w.Stamp(k.gvk, key); err == nil {
		t.Error("Stamp before the first list: no error")
	}
	if err := k.Replace([]any{partial("a", "1", "x"), partial("b", "1", "y")}, "1"); err != nil {
		t.Fatal(err)
	}
	stamp, exists, err := w.Stamp(k.gvk, key)
	if err != nil || !exists || stamp != StampOf("uid-a", "1") {
		t.Errorf("Stamp = %d, %v, %v; want the stamp of uid-a at 1", stamp, exists, err)
	}
	if _, exists, _ := w.Stamp(k.gvk, client.ObjectKey{Namespace: "ns", Name: "gone"}); exists {
		t.Error("Stamp of an unknown child says it exists")
	}
	if !slices.Equal(heard, recorded{"create ns/a x"}) {
		t.Errorf("heard %q through a predicate that passes only a", heard)
	}
	if _, _, err := w.Stamp(rbacv1.SchemeGroupVersion.WithKind("ClusterRole"), key); err == nil {
		t.Error("Stamp of a kind not watched: no error")
	}
}

// TestKindWatchKeepsRoutingLabels: handlers see the labels that route events, and no other, the
// same whether the child comes from the watch or from what was kept of it.
func TestKindWatchKeepsRoutingLabels(t *testing.T) {
	k := newKindWatch()
	var seen []map[string]string
	k.register(context.Background(), listener{handler: handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			seen = append(seen, e.Object.GetLabels())
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			seen = append(seen, e.Object.GetLabels())
		}}})
	m := partial("a", "1", "x")
	m.Labels = map[string]string{labels.Tenant: "t", labels.KeyPolicy: "p", labels.Component: "keyring", labels.ManagedBy: "tenantwire"}
	if err := k.Add(m); err != nil {
		t.Fatal(err)
	}
	if err := k.Replace(nil, "2"); err != nil { // gone while the watch was down
		t.Fatal(err)
	}
	want := map[string]string{labels.Tenant: "t", labels.KeyPolicy: "p"}
	if len(seen) != 2 || !maps.Equal(seen[0], want) || !maps.Equal(seen[1], want) {
		t.Errorf("handlers saw labels %v, want %v on the creation and the deletion", seen, want)
	}
}

// BenchmarkWatchRetained reports the heap the watches keep of the watched children of 1000
// tenants with 3 Integrations each (25 per tenant, named, labelled and owned as the controllers
// make them), by kind. It measures memory, not time; run it once:
//
//	go test ./internal/childcache -run '^$' -bench WatchRetained -benchtime 1x
func BenchmarkWatchRetained(b *testing.B) {
	for range b.N {
		var kept []*kindWatch
		var total float64
		var line strings.Builder
		for _, kind := range []string{"ConfigMap", "LimitRange", "NetworkPolicy", "ResourceQuota", "Role", "RoleBinding", "ServiceAccount"} {
			before := memstats.LiveHeap()
			k := &kindWatch{gvk: schema.GroupVersionKind{Kind: kind}, synced: make(chan struct{}), children: map[client.ObjectKey]child{}}
			// The list is the reflector's, gone once it is stored: it is made after the first
			// measurement and dropped before the second.
			if err := k.Replace(watchedChildren(1000, 3, kind), "1"); err != nil {
				b.Fatal(err)
			}
			kept = append(kept, k)
			grown := float64(memstats.LiveHeap() - before)
			total += grown
			fmt.Fprintf(&line, "\n  %-15s %6.2f MiB  %5d objects  %4.0f B each", kind, grown/(1<<20), len(k.children), grown/float64(len(k.children)))
		}
		b.ReportMetric(total/(1<<20), "MiB")
		b.Logf("watched children of 1000 tenants: %.2f MiB%s", total/(1<<20), line.String())
		runtime.KeepAlive(kept)
	}
}

// watchedChildren lists the children of one kind the controllers make for the given tenants and
// Integrations per tenant (25 of the WatchedKinds per tenant with 3), as the metadata watch
// delivers them.
func watchedChildren(tenants, integrations int, kind string) []any {
	var out []any
	add := func(k, ns, name string, l map[string]string, owner *metav1.OwnerReference) {
		if k != kind {
			return
		}
		m := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: l,
			UID:             types.UID(fmt.Sprintf("%08x-0000-4000-8000-%012x", len(out), len(name))),
			ResourceVersion: fmt.Sprint(100000 + len(out))}}
		if owner != nil {
			m.OwnerReferences = []metav1.OwnerReference{*owner}
		}
		out = append(out, m)
	}
	ownerRef := func(kind, name string, i, j int) *metav1.OwnerReference {
		return &metav1.OwnerReference{APIVersion: "tenantwire.io/v1alpha1", Kind: kind, Name: name,
			UID: types.UID(fmt.Sprintf("%08x-0000-4000-8000-%012x", i, j)), Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
	}
	for i := range tenants {
		t := fmt.Sprintf("bench-%04d", i)
		ns, tenant := "tenant-"+t, ownerRef("Tenant", t, i, 0)
		isolation := labels.ForTenant(t, "isolation")
		for _, n := range []string{"tenantwire-default-deny", "tenantwire-allow-dns", "tenantwire-allow-ingress"} {
			add("NetworkPolicy", ns, n, isolation, tenant)
		}
		add("ResourceQuota", ns, "tenantwire-quota", isolation, tenant)
		add("LimitRange", ns, "tenantwire-limits", isolation, tenant)
		add("RoleBinding", ns, "tenantwire-admins", labels.ForTenant(t, "rbac"), tenant)
		add("RoleBinding", ns, "tenantwire-viewers", labels.ForTenant(t, "rbac"), tenant)
		add("ServiceAccount", ns, "tenantwire-sync", labels.ForTenant(t, "sync"), tenant)
		keyring := labels.ForTenant(t, "keyring")
		keyring[labels.KeyPolicy] = "bench-default"
		add("Role", ns, "tenantwire-keyring-reader", keyring, nil)
		add("RoleBinding", ns, "tenantwire-keyring-reader", keyring, nil)
		for j := range integrations {
			in := fmt.Sprintf("sync-%d", j)
			owner := ownerRef("Integration", in, i, j+1)
			add("ConfigMap", ns, in+"-sync-config", labels.ForIntegration(t, in, "sync"), owner)
			add("ServiceAccount", ns, in+"-sync", labels.ForIntegration(t, in, "sync"), owner)
			add("Role", ns, in+"-credentials-reader", labels.ForIntegration(t, in, "rbac"), owner)
			add("RoleBinding", ns, in+"-credentials-reader", labels.ForIntegration(t, in, "rbac"), owner)
			add("NetworkPolicy", ns, in+"-egress", labels.ForIntegration(t, in, "isolation"), owner)
		}
	}
	return out
}
