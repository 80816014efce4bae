package integration

import (
	"maps"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
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
