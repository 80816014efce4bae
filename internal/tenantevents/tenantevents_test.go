package tenantevents

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

func TestBeyondKeyringReport(t *testing.T) {
	old := &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Generation: 1, ResourceVersion: "5"},
		Status: twv1.TenantStatus{Keyring: &twv1.TenantKeyringStatus{Policy: "default", ActiveVersion: 1}}}
	tests := map[string]struct {
		change func(*twv1.Tenant)
		want   bool
	}{
		"the keyring report written": {change: func(t *twv1.Tenant) {
			t.Status.Keyring = &twv1.TenantKeyringStatus{Policy: "default", ActiveVersion: 1, LaggingConsumers: 2}
		}},
		"the keyring report and managedFields": {change: func(t *twv1.Tenant) {
			t.Status.Keyring = nil
			t.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "tenantwire-keypolicy", Subresource: "status"}}
		}},
		"a condition written":       {want: true, change: func(t *twv1.Tenant) { t.Status.Conditions = []metav1.Condition{{Type: "Ready"}} }},
		"a spec change":             {want: true, change: func(t *twv1.Tenant) { t.Generation, t.Spec.DisplayName = 2, "Acme" }},
		"an annotation (a record)":  {want: true, change: func(t *twv1.Tenant) { t.Annotations = map[string]string{"a": "b"} }},
		"the report and a label":    {want: true, change: func(t *twv1.Tenant) { t.Status.Keyring, t.Labels = nil, map[string]string{"a": "b"} }},
		"deletion started":          {want: true, change: func(t *twv1.Tenant) { t.DeletionTimestamp = &metav1.Time{} }},
		"the purge record written":  {want: true, change: func(t *twv1.Tenant) { t.Status.Purge = &twv1.TenantPurgeRecord{} }},
		"the export progress moved": {want: true, change: func(t *twv1.Tenant) { t.Status.Export = &twv1.TenantExportStatus{} }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			updated := old.DeepCopy()
			updated.ResourceVersion = "6"
			tc.change(updated)
			if got := BeyondKeyringReport.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: updated}); got != tc.want {
				t.Errorf("passes: %v, want %v", got, tc.want)
			}
		})
	}
}
