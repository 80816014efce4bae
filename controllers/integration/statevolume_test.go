package integration

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

func TestDesiredStateClaim(t *testing.T) {
	tests := map[string]struct {
		mut       func(*twv1.Integration)
		wantClaim bool
		wantSize  string
		wantClass string
	}{
		"default":                {wantClaim: true, wantSize: "1Gi"},
		"size and class":         {mut: withSQLite(twv1.SQLiteMappingStore{Size: ptrQuantity("5Gi"), StorageClassName: "fast-ssd"}), wantClaim: true, wantSize: "5Gi", wantClass: "fast-ssd"},
		"a claim of the user's":  {mut: withClaim},
		"ephemeral":              {mut: withEphemeral},
		"postgres keeps nothing": {mut: withPostgres()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := sampleIntegration()
			if tc.mut != nil {
				tc.mut(in)
			}
			if ownsStateClaim(in) != tc.wantClaim {
				t.Fatalf("ownsStateClaim = %v, want %v", ownsStateClaim(in), tc.wantClaim)
			}
			if !tc.wantClaim {
				return
			}
			pvc := desiredStateClaim(in, sampleInputs())
			if pvc.Name != "cerbo-qb-state" || len(pvc.OwnerReferences) != 1 || !*pvc.OwnerReferences[0].Controller {
				t.Errorf("claim %s owned by %v; want cerbo-qb-state controlled by the Integration", pvc.Name, pvc.OwnerReferences)
			}
			if len(pvc.Spec.AccessModes) != 1 || pvc.Spec.AccessModes[0] != corev1.ReadWriteOnce {
				t.Errorf("access modes %v, want ReadWriteOnce", pvc.Spec.AccessModes)
			}
			if got := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != tc.wantSize {
				t.Errorf("size %s, want %s", got.String(), tc.wantSize)
			}
			if got := pvc.Spec.StorageClassName; (tc.wantClass == "") != (got == nil) || (got != nil && *got != tc.wantClass) {
				t.Errorf("storage class %v, want %q", got, tc.wantClass)
			}
		})
	}
}

func TestMappingDurableCondition(t *testing.T) {
	tests := map[string]struct {
		mut        func(*twv1.Integration)
		wantStatus metav1.ConditionStatus
		wantReason string
	}{
		"default claim": {wantStatus: metav1.ConditionTrue, wantReason: twv1.ReasonStateClaim},
		"own claim":     {mut: withClaim, wantStatus: metav1.ConditionTrue, wantReason: twv1.ReasonClaimProvided},
		"postgres":      {mut: withPostgres(), wantStatus: metav1.ConditionTrue, wantReason: twv1.ReasonPostgreSQL},
		"ephemeral":     {mut: withEphemeral, wantStatus: metav1.ConditionFalse, wantReason: twv1.ReasonEphemeralStorage},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := sampleIntegration()
			if tc.mut != nil {
				tc.mut(in)
			}
			st := computeStatus(in, observation{}, metav1.Now())
			var got *metav1.Condition
			for i := range st.Conditions {
				if st.Conditions[i].Type == twv1.IntegrationConditionMappingDurable {
					got = &st.Conditions[i]
				}
			}
			if got == nil || got.Status != tc.wantStatus || got.Reason != tc.wantReason {
				t.Fatalf("MappingDurable = %+v, want %s/%s", got, tc.wantStatus, tc.wantReason)
			}
		})
	}
}

func withSQLite(s twv1.SQLiteMappingStore) func(*twv1.Integration) {
	return func(in *twv1.Integration) { in.Spec.MappingStore = &twv1.MappingStore{SQLite: &s} }
}

func ptrQuantity(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}
