package childcache_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/labels"
)

// TestReadsWaitForAnInformerStartedLate: an informer a controller's watch starts after the manager
// has started is readable at once, before its first list arrived. A read then must wait for it,
// not answer from an empty store: a List saw no tenants and a KeyPolicy status said so.
func TestReadsWaitForAnInformerStartedLate(t *testing.T) {
	ctx := context.Background()
	const n = 40
	ours := map[string]string{labels.ManagedBy: labels.ManagedByValue, "test": "late-informer"}
	for i := range n {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("late-%02d", i), Labels: ours}}
		if err := mgr.Direct.Create(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	kp := &twv1.KeyPolicy{ObjectMeta: metav1.ObjectMeta{Name: "late-informer"},
		Spec: twv1.KeyPolicySpec{Rotation: twv1.KeyRotation{Period: metav1.Duration{Duration: 720 * time.Hour}}}}
	if err := mgr.Direct.Create(ctx, kp); err != nil {
		t.Fatal(err)
	}

	tests := map[string]struct {
		obj  client.Object
		read func() error
	}{
		"a List returns every object": {obj: &corev1.Namespace{}, read: func() error {
			list := &corev1.NamespaceList{}
			if err := mgr.GetClient().List(ctx, list, client.MatchingLabels(ours)); err != nil {
				return err
			}
			if len(list.Items) != n {
				return fmt.Errorf("listed %d namespaces, want %d", len(list.Items), n)
			}
			return nil
		}},
		"a Get finds the object": {obj: &twv1.KeyPolicy{}, read: func() error {
			return mgr.GetClient().Get(ctx, client.ObjectKeyFromObject(kp), &twv1.KeyPolicy{})
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			// As a watch starting with its controller does: the informer exists, unsynced.
			if _, err := mgr.GetCache().GetInformer(ctx, tc.obj, cache.BlockUntilSynced(false)); err != nil {
				t.Fatal(err)
			}
			if err := tc.read(); err != nil {
				t.Error(err)
			}
		})
	}
}
