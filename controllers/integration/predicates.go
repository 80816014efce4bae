package integration

import (
	"maps"
	"slices"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// externalSecretChanged passes the ExternalSecret events an Integration acts on: creation,
// deletion, a new generation (a spec edit, to repair), a deletion starting, a change of its labels
// or owners (what the cache and the owner mapping go by), and a change of ESO's Ready condition,
// the only part of its status the Integration reads (externalSecretProblem). ESO writes each
// ExternalSecret two or three times per sync (its finalizer, the status with a new refresh time),
// and the Secret it writes wakes the Integration anyway.
var externalSecretChanged = predicate.TypedFuncs[*esv1.ExternalSecret]{
	UpdateFunc: func(e event.TypedUpdateEvent[*esv1.ExternalSecret]) bool {
		o, n := e.ObjectOld, e.ObjectNew
		return o.Generation != n.Generation || !o.DeletionTimestamp.Equal(n.DeletionTimestamp) ||
			!maps.Equal(o.Labels, n.Labels) || !equality.Semantic.DeepEqual(o.OwnerReferences, n.OwnerReferences) ||
			!sameReady(readyCondition(o), readyCondition(n))
	},
}

func readyCondition(es *esv1.ExternalSecret) *esv1.ExternalSecretStatusCondition {
	for i := range es.Status.Conditions {
		if es.Status.Conditions[i].Type == esv1.ExternalSecretReady {
			return &es.Status.Conditions[i]
		}
	}
	return nil
}

func sameReady(a, b *esv1.ExternalSecretStatusCondition) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Status == b.Status && a.Reason == b.Reason && a.Message == b.Message
}

// integrationChanged passes the events of an Integration but those of its status alone. Only this
// controller writes an Integration's status, and each write would wake it once more for nothing.
var integrationChanged = predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{},
	predicate.AnnotationChangedPredicate{}, predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return deletionOrFinalizersChanged(e.ObjectOld, e.ObjectNew)
	}})

// tenantChanged passes the Tenant events its Integrations act on: a new generation (the vault
// path, networking, approval rules, export, state), labels (which KeyPolicy governs it),
// annotations (the keyring version the KeyPolicy controller recorded), deletion, the purge record
// (storePurgeDue) and its conditions. The conditions are how an Integration hears of what it has no
// event of its own for: its namespace repaired (NamespaceReady), another Tenant's vault path
// overlapping or no longer (SecretPathReady; the Integration decides the same from the cache).
// The rest of the Tenant's status is not read here; the KeyPolicy controller's keyring report
// alone changed three times per tenant while it came up, and each change woke every Integration
// of the tenant.
var tenantChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	o, okOld := e.ObjectOld.(*twv1.Tenant)
	n, okNew := e.ObjectNew.(*twv1.Tenant)
	if !okOld || !okNew {
		return true
	}
	return o.Generation != n.Generation || !maps.Equal(o.Labels, n.Labels) || !maps.Equal(o.Annotations, n.Annotations) ||
		deletionOrFinalizersChanged(o, n) || !equality.Semantic.DeepEqual(o.Status.Purge, n.Status.Purge) ||
		!equality.Semantic.DeepEqual(o.Status.Conditions, n.Status.Conditions)
}}

func deletionOrFinalizersChanged(o, n client.Object) bool {
	return !o.GetDeletionTimestamp().Equal(n.GetDeletionTimestamp()) || !slices.Equal(o.GetFinalizers(), n.GetFinalizers())
}
