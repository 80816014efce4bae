package conditions

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// RecordReadyTransition emits one event when Ready changes status or reason, never on repeats: a
// Warning for anything that needs attention, and a Normal "Ready" with readyMessage when Ready
// turns True after one (the recovery closes what the Warning opened). A resource that comes up, or
// comes back after a rotation, through steps of normal progress emits nothing: its conditions and
// their lastTransitionTime show it. At T=1000 a Ready event per object coming up was 4001 writes,
// a tenth of the minimum, and the progress steps' events a fifth of the excess at T=100.
func RecordReadyTransition(rec record.EventRecorder, obj runtime.Object, conds []metav1.Condition, before *metav1.Condition, readyMessage string) {
	after := Get(conds, twv1.ConditionReady)
	if after == nil || (before != nil && before.Status == after.Status && before.Reason == after.Reason) {
		return
	}
	switch {
	case after.Status == metav1.ConditionTrue:
		if recovered(before) {
			rec.Event(obj, corev1.EventTypeNormal, twv1.ConditionReady, readyMessage)
		}
	case IsProgress(conds):
	default:
		rec.Event(obj, corev1.EventTypeWarning, after.Reason, after.Message)
	}
}

// recovered reports whether a Ready condition, before it turned True, stood at a reason that
// recorded a Warning: neither absent (a new resource) nor a step of normal progress.
func recovered(before *metav1.Condition) bool {
	return before != nil && before.Status != metav1.ConditionTrue && !progressReasons[before.Reason]
}

// IsProgress reports whether conds describe a resource that is converging normally: Ready False
// with a progress reason while Reconciling is True.
func IsProgress(conds []metav1.Condition) bool {
	ready := Get(conds, twv1.ConditionReady)
	return ready != nil && ready.Status == metav1.ConditionFalse && progressReasons[ready.Reason] &&
		IsTrue(conds, twv1.ConditionReconciling)
}

// progressReasons are the reasons of a resource that is converging normally.
var progressReasons = map[string]bool{
	twv1.ReasonProgressing:           true,
	twv1.ReasonDependencyNotReady:    true,
	twv1.ReasonNamespaceTerminating:  true,
	twv1.ReasonCredentialsPending:    true,
	twv1.ReasonDeploymentProgressing: true,
	twv1.ReasonTenantOffboarding:     true,
}
