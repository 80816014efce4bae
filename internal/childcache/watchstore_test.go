package childcache

import (
	"context"
	"slices"
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
