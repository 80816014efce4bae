package conditions

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

func TestRecordReadyTransition(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ready := func(status metav1.ConditionStatus, reason string) *metav1.Condition {
		return &metav1.Condition{Type: twv1.ConditionReady, Status: status, Reason: reason}
	}
	tests := map[string]struct {
		before      *metav1.Condition
		status      metav1.ConditionStatus
		reason      string
		reconciling bool
		want        string // "" means no event
	}{
		"first Ready is silent":        {status: metav1.ConditionTrue, reason: twv1.ReasonReconciled},
		"Ready after progress: silent": {before: ready(metav1.ConditionFalse, twv1.ReasonCredentialsPending), status: metav1.ConditionTrue, reason: twv1.ReasonReconciled},
		"Ready after a failure":        {before: ready(metav1.ConditionFalse, twv1.ReasonApplyFailed), status: metav1.ConditionTrue, reason: twv1.ReasonReconciled, want: corev1.EventTypeNormal + " Ready"},
		"still Ready: no event":        {before: ready(metav1.ConditionTrue, twv1.ReasonReconciled), status: metav1.ConditionTrue, reason: twv1.ReasonReconciled},
		"progressing is silent":        {status: metav1.ConditionFalse, reason: twv1.ReasonCredentialsPending, reconciling: true},
		"failure while reconciling":    {status: metav1.ConditionFalse, reason: twv1.ReasonApplyFailed, reconciling: true, want: corev1.EventTypeWarning + " ApplyFailed"},
		"stalled is a Warning":         {status: metav1.ConditionFalse, reason: twv1.ReasonSecretStoreMissing, want: corev1.EventTypeWarning + " SecretStoreMissing"},
		"same failure again: silent":   {before: ready(metav1.ConditionFalse, twv1.ReasonApplyFailed), status: metav1.ConditionFalse, reason: twv1.ReasonApplyFailed},
		"Ready lost is a Warning":      {before: ready(metav1.ConditionTrue, twv1.ReasonReconciled), status: metav1.ConditionFalse, reason: twv1.ReasonDeploymentUnavailable, reconciling: true, want: corev1.EventTypeWarning + " DeploymentUnavailable"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var conds []metav1.Condition
			Set(&conds, 1, twv1.ConditionReady, tc.status, tc.reason, "msg", now)
			if tc.reconciling {
				True(&conds, 1, twv1.ConditionReconciling, tc.reason, "msg", now)
			}
			rec := record.NewFakeRecorder(5)
			RecordReadyTransition(rec, &corev1.Pod{}, conds, tc.before, "ready now")
			close(rec.Events)
			var got []string
			for e := range rec.Events {
				got = append(got, e)
			}
			switch {
			case tc.want == "" && len(got) != 0:
				t.Errorf("events = %v, want none", got)
			case tc.want != "" && (len(got) != 1 || got[0][:len(tc.want)] != tc.want):
				t.Errorf("events = %v, want one starting %q", got, tc.want)
			}
		})
	}
}
