package keypolicy

import (
	"context"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
)

// laggingCache is a client whose reads of a Tenant return the Tenant as it was before the last
// write for the next lag reads, as an informer cache that has not yet seen the write does.
type laggingCache struct {
	client.Client
	lag     int
	stale   *twv1.Tenant
	left    int
	patches int
}

func (c *laggingCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if t, ok := obj.(*twv1.Tenant); ok && c.left > 0 && c.stale != nil {
		c.left--
		c.stale.DeepCopyInto(t)
		return nil
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

func (c *laggingCache) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	before := &twv1.Tenant{}
	if err := c.Client.Get(ctx, client.ObjectKeyFromObject(obj), before); err != nil {
		return err
	}
	if err := c.Client.Patch(ctx, obj, patch, opts...); err != nil {
		return err
	}
	c.stale, c.left = before, c.lag
	c.patches++
	return nil
}

// TestRecordIsWrittenOnceFromALaggingCache: the reconcile that wrote the keyring record returns
// only once the cache shows it, so the next one, woken by the keyring it applied, does not write
// the record again from a stale Tenant.
func TestRecordIsWrittenOnceFromALaggingCache(t *testing.T) {
	base := fake.NewClientBuilder().WithScheme(twscheme.New()).WithObjects(sampleTenant()).Build()
	c := &laggingCache{Client: base, lag: 5}
	r := &Reconciler{Client: c}
	kr := sampleKeyring(1)
	for range 2 {
		tn := &twv1.Tenant{}
		if err := c.Get(ctx, client.ObjectKey{Name: "acme"}, tn); err != nil {
			t.Fatal(err)
		}
		if err := r.writeRecord(ctx, tn, kr); err != nil {
			t.Fatal(err)
		}
	}
	if c.patches != 1 {
		t.Errorf("the record was written %d times, want once", c.patches)
	}
}
