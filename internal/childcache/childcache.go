// Package childcache configures what the manager's cache holds: our own children only, without
// managedFields, so memory stays flat however large the cluster is.
package childcache

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
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
// slims children to what the controllers read (Slim).
//
// Kinds without an entry, ExternalSecrets above all, fall back to DefaultLabelSelector: our
// children only. ExternalSecrets cannot have an entry of their own (an entry needs the CRD at
// start, and a missing External Secrets Operator must stay a condition on Integrations, not a
// manager that cannot start), and without the default the cache would hold every ExternalSecret
// in the cluster: in the benchmark, the floor's as many again as ours, about a tenth of the heap.
// Our own kinds are not labelled, so their entries select everything.
func Options() cache.Options {
	own := cache.ByObject{Label: ManagedChildrenSelector()}
	all := cache.ByObject{Label: k8slabels.Everything()}
	return cache.Options{
		DefaultTransform:     transform(),
		DefaultLabelSelector: ManagedChildrenSelector(),
		ByObject: map[client.Object]cache.ByObject{
			&twv1.Tenant{}:                all,
			&twv1.Integration{}:           all,
			&twv1.KeyPolicy{}:             all,
			&corev1.Namespace{}:           own,
			&corev1.ResourceQuota{}:       own,
			&corev1.LimitRange{}:          own,
			&corev1.ServiceAccount{}:      own,
			&corev1.Secret{}:              own,
			&corev1.ConfigMap{}:           own,
			&networkingv1.NetworkPolicy{}: own,
			&rbacv1.RoleBinding{}:         own,
			&rbacv1.Role{}:                own,
			&appsv1.Deployment{}:          own,
			&batchv1.Job{}:                own,
		},
	}
}
