// Package childcache decides what the manager holds of the objects it watches: our own children
// only, without managedFields; the children it reads cached slim (Slim), the rest only watched,
// as a stamp per child (Watches). Memory stays flat however large the cluster is, and small per
// tenant.
package childcache

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/labels"
)

// ManagedChildrenSelector is what the cache keeps of kinds we only create: our own objects. It keeps
// memory flat however many unrelated Secrets, Namespaces or Deployments the cluster holds.
func ManagedChildrenSelector() k8slabels.Selector {
	return k8slabels.SelectorFromSet(k8slabels.Set{labels.ManagedBy: labels.ManagedByValue})
}

// Options limits the cache to our children, strips managedFields from everything it holds and
// slims children to what the controllers read (Slim). The WatchedKinds are not cached at all
// (Watches).
//
// Kinds without an entry, ExternalSecrets above all, fall back to DefaultLabelSelector: our
// children only. ExternalSecrets cannot have an entry of their own (an entry needs the CRD at
// start, and a missing External Secrets Operator must stay a condition on Integrations, not a
// manager that cannot start), and without the default the cache would hold every ExternalSecret
// in the cluster: in the benchmark, the floor's as many again as ours, about a tenth of the heap.
// Our own kinds are not labelled, so their entries select everything.
//
// A read of a kind nobody watches fails instead of starting an informer on the spot: a cached
// read of a watched kind would quietly cache it after all.
func Options() cache.Options {
	own := cache.ByObject{Label: ManagedChildrenSelector()}
	all := cache.ByObject{Label: k8slabels.Everything()}
	return cache.Options{
		DefaultTransform:            transform(),
		DefaultLabelSelector:        ManagedChildrenSelector(),
		ReaderFailOnMissingInformer: true,
		ByObject: map[client.Object]cache.ByObject{
			&twv1.Tenant{}:      all,
			&twv1.Integration{}: all,
			&twv1.KeyPolicy{}:   all,
			// Approvals are few and small; the Integration controller reads them all.
			&twv1.IntegrationApproval{}: all,
			&corev1.Namespace{}:         own,
			&corev1.Secret{}:            own,
			&appsv1.Deployment{}:        own,
			&batchv1.Job{}:              own,
		},
	}
}

// ReadsFromCache starts the informers of kinds a controller reads from the cache without watching
// them: with ReaderFailOnMissingInformer, a read of a kind no informer holds fails, and another
// controller's watch must not be what makes it work.
func ReadsFromCache(informers cache.Informers, objs ...client.Object) error {
	for _, obj := range objs {
		if _, err := informers.GetInformer(context.Background(), obj, cache.BlockUntilSynced(false)); err != nil {
			return fmt.Errorf("starting the informer of %T: %w", obj, err)
		}
	}
	return nil
}
