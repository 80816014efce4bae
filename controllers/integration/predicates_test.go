package integration

import (
	"testing"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
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

func TestIntegrationChangedIgnoresItsOwnStatusWrites(t *testing.T) {
	old := &twv1.Integration{ObjectMeta: metav1.ObjectMeta{Name: "sync", Generation: 2, ResourceVersion: "5",
		Labels: map[string]string{"team": "a"}, Annotations: map[string]string{"note": "x"}}}
	now := metav1.Now()
	tests := []struct {
		name   string
		change func(*twv1.Integration)
		want   bool
	}{
		{name: "its status written", want: false, change: func(in *twv1.Integration) {
			in.Status.ObservedGeneration, in.Status.Conditions = 2, []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue}}
		}},
		{name: "a spec change", want: true, change: func(in *twv1.Integration) { in.Generation++ }},
		{name: "a label edited", want: true, change: func(in *twv1.Integration) { in.Labels = map[string]string{"team": "b"} }},
		{name: "an annotation edited", want: true, change: func(in *twv1.Integration) {
			in.Annotations = map[string]string{"note": "y"}
		}},
		{name: "deletion started", want: true, change: func(in *twv1.Integration) { in.DeletionTimestamp = &now }},
		{name: "a finalizer removed", want: true, change: func(in *twv1.Integration) { in.Finalizers = []string{"x"} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			updated := old.DeepCopy()
			updated.ResourceVersion = "6"
			tc.change(updated)
			if got := integrationChanged.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: updated}); got != tc.want {
				t.Errorf("reconcile on %s: %v, want %v", tc.name, got, tc.want)
			}
		})
	}
	if !integrationChanged.Create(event.CreateEvent{Object: old}) || !integrationChanged.Delete(event.DeleteEvent{Object: old}) {
		t.Error("a creation or deletion does not pass")
	}
}

func TestTenantChangedPassesWhatIntegrationsRead(t *testing.T) {
	old := &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Generation: 3, ResourceVersion: "5",
		Labels: map[string]string{"tier": "a"}, Annotations: map[string]string{twv1.KeyringVersionAnnotation: "1"}}}
	now := metav1.Now()
	tests := []struct {
		name   string
		change func(*twv1.Tenant)
		want   bool
	}{
		{name: "its export progress written", want: false, change: func(t *twv1.Tenant) {
			t.Status.Export = &twv1.TenantExportStatus{}
		}},
		{name: "a condition written (another Tenant's path overlaps)", want: true, change: func(t *twv1.Tenant) {
			t.Status.Conditions = []metav1.Condition{{Type: twv1.TenantConditionSecretPathReady, Status: metav1.ConditionFalse}}
		}},
		{name: "its keyring report written", want: false, change: func(t *twv1.Tenant) {
			t.Status.Keyring = &twv1.TenantKeyringStatus{Policy: "default", ActiveVersion: 2}
		}},
		{name: "a spec change", want: true, change: func(t *twv1.Tenant) { t.Generation++ }},
		{name: "a label edited (the KeyPolicy that governs it)", want: true, change: func(t *twv1.Tenant) { t.Labels = nil }},
		{name: "the keyring record moved", want: true, change: func(t *twv1.Tenant) {
			t.Annotations = map[string]string{twv1.KeyringVersionAnnotation: "2"}
		}},
		{name: "deletion started", want: true, change: func(t *twv1.Tenant) { t.DeletionTimestamp = &now }},
		{name: "the purge record written", want: true, change: func(t *twv1.Tenant) {
			t.Status.Purge = &twv1.TenantPurgeRecord{Integrations: []string{"sync"}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			updated := old.DeepCopy()
			updated.ResourceVersion = "6"
			tc.change(updated)
			if got := tenantChanged.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: updated}); got != tc.want {
				t.Errorf("reconcile on %s: %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}
