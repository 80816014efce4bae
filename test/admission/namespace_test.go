package admission

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tenantwire/tenantwire/internal/labels"
)

const (
	namespaceDeletionPolicy = "tenantwire-tenant-namespace-deletion"
	// allowDeletionAnnotation is the cluster admin's override of the namespace deletion guard.
	allowDeletionAnnotation = "tenantwire.io/allow-namespace-deletion"
	// practiceAdmin administers a practice on a platform that lets practice admins delete and
	// relabel their namespaces (self-service platforms grant namespace owners that).
	practiceAdmin = "practice-admin"
	// clusterAdmin is the envtest administrator (group system:masters): RBAC allows it everything.
	clusterAdmin = "cluster-admin"
	notPurged    = "which is not purged; the operator deletes it when it purges the Tenant"
)

// namespaceOwnerRBAC lets the practice admin delete and relabel namespaces, so that only the
// policy stands between it and a tenant's data.
func namespaceOwnerRBAC() []client.Object {
	return []client.Object{
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "namespace-owner"}, Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "patch", "update", "delete"}}}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "namespace-owner"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "namespace-owner"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: practiceAdmin}}},
	}
}

// liveTenantNamespace creates, as the operator, a tenant namespace of its own for one attempt:
// an admitted deletion leaves it Terminating (envtest runs no namespace controller).
func liveTenantNamespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name,
		Labels: labels.ForTenant(strings.TrimPrefix(name, "tenant-"), "namespace")}}
	return ns, clients[operatorUser].c.Create(ctx, ns)
}

// markNamespace sets one label or annotation on a namespace with a merge patch.
func markNamespace(ctx context.Context, c client.Client, ns *corev1.Namespace, field, key, value string) error {
	return c.Patch(ctx, ns, client.RawPatch(types.MergePatchType,
		[]byte(`{"metadata":{"`+field+`":{"`+key+`":"`+value+`"}}}`)))
}

// namespaceDeletionAttacks delete a live tenant namespace, or forge what would let them.
func namespaceDeletionAttacks() map[string]attack {
	deleteLive := func(as, name string) attack {
		return attack{attempt: attempt{as: as, do: func(ctx context.Context, id identity, suffix string) error {
			ns, err := liveTenantNamespace(ctx, name+suffix)
			if err != nil {
				return err
			}
			return id.c.Delete(ctx, ns)
		}}, policy: namespaceDeletionPolicy, message: notPurged}
	}
	mark := func(as, name, field, key, value, message string) attack {
		return attack{attempt: attempt{as: as, do: func(ctx context.Context, id identity, suffix string) error {
			ns, err := liveTenantNamespace(ctx, name+suffix)
			if err != nil {
				return err
			}
			return markNamespace(ctx, id.c, ns, field, key, value)
		}}, policy: namespaceDeletionPolicy, message: message}
	}
	return map[string]attack{
		"practice admin deletes a live tenant namespace":                     deleteLive(practiceAdmin, "tenant-guard-practice"),
		"cluster admin deletes a live tenant namespace without the override": deleteLive(clusterAdmin, "tenant-guard-cluster"),
		"operator deletes a tenant namespace it has not purged":              deleteLive(operatorUser, "tenant-guard-operator"),
		"practice admin labels a tenant namespace purged": mark(practiceAdmin, "tenant-guard-label", "labels", labels.Purged, "true",
			"the label tenantwire.io/purged on namespace tenant-guard-label"),
		"practice admin sets the deletion override": mark(practiceAdmin, "tenant-guard-override", "annotations", allowDeletionAnnotation, "tenant-guard-override",
			"may be set only by someone allowed to force-delete Tenant guard-override"),
		// The override names the namespace it is for, so one copied from elsewhere covers nothing.
		"cluster admin deletes with an override naming another namespace": {attempt: attempt{as: clusterAdmin, do: func(ctx context.Context, id identity, suffix string) error {
			ns, err := liveTenantNamespace(ctx, "tenant-guard-copied"+suffix)
			if err != nil {
				return err
			}
			if err := markNamespace(ctx, id.c, ns, "annotations", allowDeletionAnnotation, "tenant-guard-elsewhere"); err != nil {
				return err
			}
			return id.c.Delete(ctx, ns)
		}}, policy: namespaceDeletionPolicy, message: notPurged},
	}
}

// namespaceDeletionAllowed: the operator deletes what it purged, and a cluster admin overrides.
func namespaceDeletionAllowed() map[string]attempt {
	return map[string]attempt{
		"operator deletes a tenant namespace it labelled purged": {as: operatorUser, do: func(ctx context.Context, id identity, _ string) error {
			ns, err := liveTenantNamespace(ctx, "tenant-guard-purged")
			if err != nil {
				return err
			}
			if err := markNamespace(ctx, id.c, ns, "labels", labels.Purged, "true"); err != nil {
				return err
			}
			return id.c.Delete(ctx, ns)
		}},
		"cluster admin deletes a tenant namespace with the override": {as: clusterAdmin, do: func(ctx context.Context, id identity, _ string) error {
			ns, err := liveTenantNamespace(ctx, "tenant-guard-overridden")
			if err != nil {
				return err
			}
			if err := markNamespace(ctx, id.c, ns, "annotations", allowDeletionAnnotation, ns.Name); err != nil {
				return err
			}
			return id.c.Delete(ctx, ns)
		}},
	}
}
