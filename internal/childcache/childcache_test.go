package childcache_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
			case exists && stamp != childcache.StampOf(obj.GetUID(), obj.GetResourceVersion()):
				return fmt.Errorf("%s: stamp is not that of resourceVersion %s", what, obj.GetResourceVersion())
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
