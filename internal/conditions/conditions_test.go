package conditions

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

func TestSetSummary(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	deps := []string{"A", "B"}
	tests := map[string]struct {
		a, b                      *metav1.ConditionStatus
		stalled                   bool
		wantReady                 metav1.ConditionStatus
		wantReason                string
		wantReconciling, wantStal bool
	}{
		"all true": {a: st(metav1.ConditionTrue), b: st(metav1.ConditionTrue), wantReady: metav1.ConditionTrue, wantReason: twv1.ReasonReconciled},
		"first false wins, progressing": {
			a: st(metav1.ConditionTrue), b: st(metav1.ConditionFalse),
			wantReady: metav1.ConditionFalse, wantReason: "B-reason", wantReconciling: true,
		},
		"missing dependency": {
			a: st(metav1.ConditionTrue), wantReady: metav1.ConditionFalse, wantReason: twv1.ReasonProgressing, wantReconciling: true,
		},
		"stalled": {
			a: st(metav1.ConditionFalse), b: st(metav1.ConditionTrue), stalled: true,
			wantReady: metav1.ConditionFalse, wantReason: "A-reason", wantStal: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var conds []metav1.Condition
			// Pre-existing progress conditions must be replaced, not accumulated.
			True(&conds, 1, twv1.ConditionReconciling, "old", "", now)
			True(&conds, 1, twv1.ConditionStalled, "old", "", now)
			if tc.a != nil {
				Set(&conds, 1, "A", *tc.a, "A-reason", "", now)
			}
			if tc.b != nil {
				Set(&conds, 1, "B", *tc.b, "B-reason", "", now)
			}
			SetSummary(&conds, 1, deps, tc.stalled, now)
			ready := Get(conds, twv1.ConditionReady)
			if ready == nil || ready.Status != tc.wantReady || ready.Reason != tc.wantReason {
				t.Fatalf("Ready = %+v, want %s/%s", ready, tc.wantReady, tc.wantReason)
			}
			if conds[0].Type != twv1.ConditionReady {
				t.Errorf("Ready is not first: %v", conds)
			}
			if got := IsTrue(conds, twv1.ConditionReconciling); got != tc.wantReconciling {
				t.Errorf("Reconciling = %v, want %v", got, tc.wantReconciling)
			}
			if got := IsTrue(conds, twv1.ConditionStalled); got != tc.wantStal {
				t.Errorf("Stalled = %v, want %v", got, tc.wantStal)
			}
		})
	}
}

func st(s metav1.ConditionStatus) *metav1.ConditionStatus { return &s }
