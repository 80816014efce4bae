package integration

import (
	"testing"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

func TestExternalSecretChangedPassesWhatTheIntegrationReads(t *testing.T) {
	old := &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: "sync-source-credentials", Generation: 1, ResourceVersion: "5",
		Labels: map[string]string{"team": "a"}, OwnerReferences: []metav1.OwnerReference{{Kind: "Integration", Name: "sync", UID: "u1"}}},
		Status: esv1.ExternalSecretStatus{Conditions: []esv1.ExternalSecretStatusCondition{
			{Type: esv1.ExternalSecretReady, Status: corev1.ConditionFalse, Reason: "SecretSyncing", Message: "syncing"}}}}
	now := metav1.Now()
	tests := []struct {
		name   string
		change func(*esv1.ExternalSecret)
		want   bool
	}{
		{name: "a new refresh time", want: false, change: func(es *esv1.ExternalSecret) { es.Status.RefreshTime = now }},
		{name: "ESO's finalizer", want: false, change: func(es *esv1.ExternalSecret) {
			es.Finalizers = []string{"externalsecrets.external-secrets.io/externalsecret-cleanup"}
		}},
		{name: "synced", want: true, change: func(es *esv1.ExternalSecret) {
			es.Status.Conditions[0].Status, es.Status.Conditions[0].Reason = corev1.ConditionTrue, esv1.ConditionReasonSecretSynced
		}},
		{name: "a sync error's message", want: true, change: func(es *esv1.ExternalSecret) { es.Status.Conditions[0].Message = "could not get secret" }},
		{name: "no Ready condition any more", want: true, change: func(es *esv1.ExternalSecret) { es.Status.Conditions = nil }},
		{name: "a spec change", want: true, change: func(es *esv1.ExternalSecret) { es.Generation++ }},
		{name: "a label edited", want: true, change: func(es *esv1.ExternalSecret) { es.Labels = map[string]string{"team": "b"} }},
		{name: "its owner removed", want: true, change: func(es *esv1.ExternalSecret) { es.OwnerReferences = nil }},
		{name: "deletion started", want: true, change: func(es *esv1.ExternalSecret) { es.DeletionTimestamp = &now }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			updated := old.DeepCopy()
			updated.ResourceVersion = "6"
			tc.change(updated)
			if got := externalSecretChanged.Update(event.TypedUpdateEvent[*esv1.ExternalSecret]{ObjectOld: old, ObjectNew: updated}); got != tc.want {
				t.Errorf("reconcile on %s: %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}
