package childcache_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/childcache"
	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

var mgr *testenv.Manager

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, testenv.SuiteOptions{ExternalSecrets: true}, func(m *testenv.Manager) error {
		mgr = m
		// Only what some controller watches is readable from the cache; these tests read without
		// a controller, so they start the informers a controller's watch would.
		for _, obj := range []client.Object{&esv1.ExternalSecret{}, &corev1.Secret{}, &twv1.Tenant{}} {
			if _, err := m.GetCache().GetInformer(context.Background(), obj, cache.BlockUntilSynced(false)); err != nil {
				return err
			}
		}
		return nil
	}))
}

// TestCacheHoldsOnlyOurChildren: the manager's cache holds our labelled children and all of our
// own kinds, and nothing else of a kind we only create, including kinds without an entry of their
// own (ExternalSecrets, whose CRD may be installed after the manager starts).
func TestCacheHoldsOnlyOurChildren(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cache-test"}}
	if err := mgr.Direct.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	ours := map[string]string{labels.ManagedBy: labels.ManagedByValue}
	es := func(name string, l map[string]string) client.Object {
		return &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: name, Labels: l},
			Spec: esv1.ExternalSecretSpec{SecretStoreRef: esv1.SecretStoreRef{Name: "vault", Kind: "ClusterSecretStore"},
				Target: esv1.ExternalSecretTarget{Name: name}}}
	}
	secret := func(name string, l map[string]string) client.Object {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: name, Labels: l}}
	}
	tenant := &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "cache-test"}, Spec: twv1.TenantSpec{DisplayName: "cache test"}}
	for _, o := range []client.Object{es("ours", ours), es("someone-elses", nil), secret("ours", ours), secret("someone-elses", nil), tenant} {
		if err := mgr.Direct.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	tests := map[string]struct {
		obj    client.Object
		key    client.ObjectKey
		cached bool
	}{
		"our ExternalSecret":              {obj: &esv1.ExternalSecret{}, key: client.ObjectKey{Namespace: ns.Name, Name: "ours"}, cached: true},
		"someone else's ExternalSecret":   {obj: &esv1.ExternalSecret{}, key: client.ObjectKey{Namespace: ns.Name, Name: "someone-elses"}},
		"our Secret":                      {obj: &corev1.Secret{}, key: client.ObjectKey{Namespace: ns.Name, Name: "ours"}, cached: true},
		"someone else's Secret":           {obj: &corev1.Secret{}, key: client.ObjectKey{Namespace: ns.Name, Name: "someone-elses"}},
		"a Tenant (our kind, unlabelled)": {obj: &twv1.Tenant{}, key: client.ObjectKey{Name: "cache-test"}, cached: true},
	}
	// Our objects reach the cache; once they have, anything filtered out would have too.
	testenv.Eventually(t, 20*time.Second, func() error {
		for name, tc := range tests {
			if tc.cached {
				if err := mgr.GetClient().Get(ctx, tc.key, tc.obj); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
		}
		return nil
	})
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := mgr.GetClient().Get(ctx, tc.key, tc.obj)
			if cached := err == nil; cached != tc.cached {
				t.Errorf("in the cache: %v (%v), want %v", cached, err, tc.cached)
			}
		})
	}
}

// TestWatchedKindsAreNotCached: a cached read of a kind watched without a cache fails, rather than
// starting an informer that would cache the kind after all.
func TestWatchedKindsAreNotCached(t *testing.T) {
	for _, obj := range childcache.WatchedKinds {
		err := mgr.GetClient().Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "any"}, obj.DeepCopyObject().(client.Object))
		if !errors.As(err, new(*cache.ErrResourceNotCached)) {
			t.Errorf("cached read of %T: %v, want ErrResourceNotCached", obj, err)
		}
	}
}

// TestWatchesTellOwnersAndStamps runs a watch against the API server: a labelled child wakes its
// owner when it is created, changed or deleted, its stamp follows its resourceVersion, and an
// unlabelled object of the kind is never seen.
func TestWatchesTellOwnersAndStamps(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "watch-test"}}
	if err := mgr.Direct.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer queue.ShutDown()
	sources, err := mgr.Children.OwnedBy(&twv1.Integration{}, &corev1.ConfigMap{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sources[0].Start(ctx, queue); err != nil {
		t.Fatal(err)
	}
	if err := sources[0].(source.SyncingSource).WaitForSync(ctx); err != nil {
		t.Fatal(err)
	}
	owner := metav1.OwnerReference{APIVersion: twv1.GroupVersion.String(), Kind: "Integration", Name: "owner",
		UID: "0c2b5f43-8a5c-4bde-9f0e-2f1d7f1c0a11", Controller: ptr.To(true)}
	ours := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "ours", OwnerReferences: []metav1.OwnerReference{owner},
		Labels: map[string]string{labels.ManagedBy: labels.ManagedByValue}}}
	theirs := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "theirs", OwnerReferences: []metav1.OwnerReference{owner}}}
	gvk := corev1.SchemeGroupVersion.WithKind("ConfigMap")
	want := reconcile.Request{NamespacedName: client.ObjectKey{Namespace: ns.Name, Name: "owner"}}
	awaitOwner := func(what string) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, func() error {
			if queue.Len() == 0 {
				return fmt.Errorf("%s: the owner was not woken", what)
			}
			return nil
		})
		got, _ := queue.Get()
		queue.Done(got)
		queue.Forget(got)
		if got != want {
			t.Errorf("%s: woke %v, want %v", what, got, want)
		}
	}
	awaitStamp := func(what string, obj client.Object, exists bool) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, func() error {
			stamp, found, err := mgr.Children.Stamp(gvk, client.ObjectKeyFromObject(obj))
			switch {
			case err != nil:
				return err
			case found != exists:
				return fmt.Errorf("%s: exists %v, want %v", what, found, exists)
			case exists && stamp != childcache.Stamp(gvk.GroupKind(), obj):
				return fmt.Errorf("%s: the watch's stamp is not that of the object at resourceVersion %s", what, obj.GetResourceVersion())
			}
			return nil
		})
	}

	if err := mgr.Direct.Create(ctx, theirs); err != nil {
		t.Fatal(err)
	}
	if err := mgr.Direct.Create(ctx, ours); err != nil {
		t.Fatal(err)
	}
	awaitOwner("created")
	awaitStamp("created", ours, true)
	ours.Data = map[string]string{"edited": "by hand"}
	if err := mgr.Direct.Update(ctx, ours); err != nil {
		t.Fatal(err)
	}
	awaitOwner("changed")
	awaitStamp("changed", ours, true)
	if err := mgr.Direct.Delete(ctx, ours); err != nil {
		t.Fatal(err)
	}
	awaitOwner("deleted")
	awaitStamp("deleted", ours, false)
	if _, found, _ := mgr.Children.Stamp(gvk, client.ObjectKeyFromObject(theirs)); found || queue.Len() != 0 {
		t.Errorf("an unlabelled ConfigMap was seen (in the watch: %v, requests queued: %d)", found, queue.Len())
	}
}

// TestStampMovesOnlyForWhatWeApply runs Stamp against the API server: a child applied by our field
// manager keeps its stamp through another controller's status write, and loses it to any edit
// that can touch what we applied, including a removal (which leaves the remover no managedFields
// entry, but takes the field from ours). A cached kind's stamp is the same from the slimmed object
// the cache holds as from the live one.
func TestStampMovesOnlyForWhatWeApply(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "stamp-test"}}
	if err := mgr.Direct.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	ours := map[string]string{labels.ManagedBy: labels.ManagedByValue}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: ns.Name, Name: name, Labels: ours}
	}
	quota := func(name string) client.Object {
		return &corev1.ResourceQuota{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ResourceQuota"}, ObjectMeta: meta(name),
			Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("20")}}}
	}
	policy := func(name string) client.Object {
		return &networkingv1.NetworkPolicy{TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
			ObjectMeta: meta(name), Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(53))}}}}}}
	}
	deployment := func(name string) client.Object {
		podLabels := map[string]string{"app": name}
		return &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta(name),
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: podLabels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "sync", Image: "example.com/sync:1"}}}}}}
	}
	externalSecret := func(name string) client.Object {
		return &esv1.ExternalSecret{TypeMeta: metav1.TypeMeta{APIVersion: esv1.SchemeGroupVersion.String(), Kind: "ExternalSecret"},
			ObjectMeta: meta(name), Spec: esv1.ExternalSecretSpec{SecretStoreRef: esv1.SecretStoreRef{Name: "vault", Kind: "ClusterSecretStore"},
				Target: esv1.ExternalSecretTarget{Name: name}}}
	}
	// byHand edits as kubectl edit does: a patch of what changed.
	byHand := func(edit func(client.Object)) func(client.Object) error {
		return func(o client.Object) error {
			patch := client.MergeFrom(o.DeepCopyObject().(client.Object))
			edit(o)
			return mgr.Direct.Patch(ctx, o, patch, client.FieldOwner("kubectl-edit"))
		}
	}
	annotate := byHand(func(o client.Object) { o.SetAnnotations(map[string]string{"note": "by hand"}) })
	relabel := byHand(func(o client.Object) {
		o.SetLabels(map[string]string{labels.ManagedBy: labels.ManagedByValue, "extra": "x"})
	})
	tests := map[string]struct {
		obj   func(name string) client.Object
		write func(client.Object) error
		moves bool
	}{
		"quota: the quota controller's status write": {obj: quota, write: func(o client.Object) error {
			q := o.(*corev1.ResourceQuota)
			q.Status.Hard, q.Status.Used = q.Spec.Hard, corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1")}
			return mgr.Direct.Status().Update(ctx, q, client.FieldOwner("resourcequota-controller"))
		}},
		"quota: a limit we set, edited by hand": {obj: quota, moves: true, write: byHand(func(o client.Object) {
			o.(*corev1.ResourceQuota).Spec.Hard[corev1.ResourcePods] = resource.MustParse("500")
		})},
		"quota: an annotation added by hand": {obj: quota, moves: true, write: annotate},
		"network policy: a rule we set, removed by a JSON patch": {obj: policy, moves: true, write: func(o client.Object) error {
			return mgr.Direct.Patch(ctx, o, client.RawPatch(types.JSONPatchType, []byte(`[{"op":"remove","path":"/spec/egress"}]`)))
		}},
		"deployment: the Deployment controller's status write": {obj: deployment, write: func(o client.Object) error {
			d := o.(*appsv1.Deployment)
			d.Status.ObservedGeneration, d.Status.Replicas = d.Generation, 1
			return mgr.Direct.Status().Update(ctx, d, client.FieldOwner("deployment-controller"))
		}},
		"deployment: the replicas edited by hand": {obj: deployment, moves: true, write: byHand(func(o client.Object) {
			o.(*appsv1.Deployment).Spec.Replicas = ptr.To[int32](3)
		})},
		"deployment: a label added by hand": {obj: deployment, moves: true, write: relabel},
		// The API server gives a Deployment a new generation for an annotation edit too.
		"deployment: an annotation added by hand": {obj: deployment, moves: true, write: annotate},
		"external secret: ESO's status write": {obj: externalSecret, write: func(o client.Object) error {
			es := o.(*esv1.ExternalSecret)
			es.Status.RefreshTime = metav1.Now()
			return mgr.Direct.Status().Update(ctx, es, client.FieldOwner("external-secrets"))
		}},
		// The cache holds no annotations: an annotation-only edit is repaired on our next change.
		"external secret: an annotation added by hand": {obj: externalSecret, write: annotate},
		"external secret: the target edited by hand": {obj: externalSecret, moves: true, write: byHand(func(o client.Object) {
			o.(*esv1.ExternalSecret).Spec.Target.Name = "elsewhere"
		})},
	}
	i := 0
	for name, tc := range tests {
		i++
		t.Run(name, func(t *testing.T) {
			obj := tc.obj(fmt.Sprintf("child-%d", i))
			gk := obj.GetObjectKind().GroupVersionKind().GroupKind()
			if err := mgr.Direct.Patch(ctx, obj, client.Apply, client.FieldOwner("tenantwire-test"), client.ForceOwnership); err != nil {
				t.Fatal(err)
			}
			before := stampBothWays(t, gk, obj)
			rv := obj.GetResourceVersion()
			if err := tc.write(obj); err != nil {
				t.Fatal(err)
			}
			if obj.GetResourceVersion() == rv {
				t.Fatal("the write changed nothing")
			}
			if moved := stampBothWays(t, gk, obj) != before; moved != tc.moves {
				t.Errorf("stamp moved: %v, want %v (rule %v)", moved, tc.moves, childcache.StampRule(gk, obj))
			}
		})
	}
}

// stampBothWays is the object's Stamp, which must be the same from what the cache keeps of it.
func stampBothWays(t *testing.T, gk schema.GroupKind, obj client.Object) uint64 {
	t.Helper()
	stamp := childcache.Stamp(gk, obj)
	slim, err := childcache.Slim(obj.DeepCopyObject())
	if err != nil {
		t.Fatal(err)
	}
	slimObj := slim.(client.Object)
	slimObj.SetManagedFields(nil)
	if fromCache := childcache.Stamp(gk, slimObj); childcache.StampRule(gk, obj) != childcache.ByMetadata && fromCache != stamp {
		t.Errorf("the stamp of the cached %s differs from the live one's", gk.Kind)
	}
	return stamp
}
