// Package secretpath finds, from the manager's cache, the Tenants whose key vault paths overlap a
// tenant's, through a field index rather than a list of every Tenant.
package secretpath

import (
	"context"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// IndexField is the cache index of Tenants by twv1.SecretPathKeys.
const IndexField = "tenantwire.io/secret-path"

// indexed holds the field indexers IndexField was added to: the Tenant and Integration
// controllers both ask for it, and an indexer refuses the same field twice.
var (
	mu      sync.Mutex
	indexed = map[client.FieldIndexer]bool{}
)

// Register adds IndexField to the indexer (a manager's cache) unless it has it already.
func Register(ctx context.Context, indexer client.FieldIndexer) error {
	mu.Lock()
	defer mu.Unlock()
	if indexed[indexer] {
		return nil
	}
	if err := indexer.IndexField(ctx, &twv1.Tenant{}, IndexField, Keys); err != nil {
		return err
	}
	indexed[indexer] = true
	return nil
}

// Keys is the index function of IndexField.
func Keys(o client.Object) []string {
	t, ok := o.(*twv1.Tenant)
	if !ok {
		return nil
	}
	return twv1.SecretPathKeys(t)
}

// Overlapping lists the Tenants whose paths overlap t's (t among them), read in place from the
// cache: callers only read them.
func Overlapping(ctx context.Context, c client.Reader, t *twv1.Tenant) ([]twv1.Tenant, error) {
	var out []twv1.Tenant
	for _, q := range twv1.SecretPathQueries(t) {
		l := &twv1.TenantList{}
		if err := c.List(ctx, l, client.MatchingFields{IndexField: q}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		out = append(out, l.Items...)
	}
	return out, nil
}
