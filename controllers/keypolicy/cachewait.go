package keypolicy

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// The keyring and reader binding applied with a Tenant's record or report wake the tenant again
// within milliseconds, often before the cache holds the Tenant as written; that reconcile then
// wrote the same record again from the stale copy (64 of 100 tenants at T=100). So a reconcile that
// wrote the Tenant waits until the cache shows it, as Cluster API's MachineSet controller waits
// for the Machines it created. The wait is in memory; on timeout the next reconcile decides again.
const (
	cacheWaitInterval = 10 * time.Millisecond
	cacheWaitTimeout  = 2 * time.Second
)

// awaitCachedTenant waits until the cached Tenant satisfies shows, is gone, or the wait times out
// or fails.
func (r *Reconciler) awaitCachedTenant(ctx context.Context, name string, shows func(*twv1.Tenant) bool) {
	_ = wait.PollUntilContextTimeout(ctx, cacheWaitInterval, cacheWaitTimeout, true, func(ctx context.Context) (bool, error) {
		cached := &twv1.Tenant{}
		switch err := r.Client.Get(ctx, client.ObjectKey{Name: name}, cached); {
		case apierrors.IsNotFound(err):
			// Deleted since: nothing left to write twice.
			return true, nil
		case err != nil:
			return false, err
		}
		return shows(cached), nil
	})
}
