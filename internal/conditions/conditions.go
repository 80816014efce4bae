// Package conditions keeps metav1.Condition lists the way kstatus, Argo CD and Flux read them: Ready
// first, lastTransitionTime moved only when a status flips, and the "abnormal-true" Reconciling and
// Stalled conditions present only while they hold.
package conditions

import (
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// Set records a condition; lastTransitionTime changes only when the status changes.
func Set(conds *[]metav1.Condition, generation int64, typ string, status metav1.ConditionStatus, reason, message string, now metav1.Time) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type:               typ,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: generation,
		LastTransitionTime: now,
	})
}

// True is Set with status True.
func True(conds *[]metav1.Condition, generation int64, typ, reason, message string, now metav1.Time) {
	Set(conds, generation, typ, metav1.ConditionTrue, reason, message, now)
}

// False is Set with status False.
func False(conds *[]metav1.Condition, generation int64, typ, reason, message string, now metav1.Time) {
	Set(conds, generation, typ, metav1.ConditionFalse, reason, message, now)
}

// Remove drops a condition type if present.
func Remove(conds *[]metav1.Condition, typ string) { meta.RemoveStatusCondition(conds, typ) }

// IsTrue reports whether the condition is present and True.
func IsTrue(conds []metav1.Condition, typ string) bool { return meta.IsStatusConditionTrue(conds, typ) }

// Get returns the condition of a type, or nil.
func Get(conds []metav1.Condition, typ string) *metav1.Condition {
	return meta.FindStatusCondition(conds, typ)
}

// SetSummary derives Ready from the given dependency conditions: Ready is True only when all of them
// are True; otherwise it carries the reason and message of the first one that is not. Reconciling and
// Stalled are set alongside so kstatus reports InProgress or Failed instead of guessing.
// stalled marks a failure only the user can fix (bad input), as opposed to one that is progressing.
func SetSummary(conds *[]metav1.Condition, generation int64, deps []string, stalled bool, now metav1.Time) {
	for _, d := range deps {
		c := Get(*conds, d)
		if c != nil && c.Status == metav1.ConditionTrue {
			continue
		}
		reason, message := twv1.ReasonProgressing, d+" has not been reported yet"
		if c != nil {
			reason, message = c.Reason, c.Message
		}
		False(conds, generation, twv1.ConditionReady, reason, message, now)
		if stalled {
			True(conds, generation, twv1.ConditionStalled, reason, message, now)
			Remove(conds, twv1.ConditionReconciling)
		} else {
			True(conds, generation, twv1.ConditionReconciling, reason, message, now)
			Remove(conds, twv1.ConditionStalled)
		}
		sortReadyFirst(*conds)
		return
	}
	True(conds, generation, twv1.ConditionReady, twv1.ReasonReconciled, "All conditions are met", now)
	Remove(conds, twv1.ConditionReconciling)
	Remove(conds, twv1.ConditionStalled)
	sortReadyFirst(*conds)
}

// sortReadyFirst keeps Ready at the top (what kubectl describe and UIs show first) and the rest in a
// stable order so that an unchanged status compares equal.
func sortReadyFirst(conds []metav1.Condition) {
	slices.SortStableFunc(conds, func(a, b metav1.Condition) int {
		switch {
		case a.Type == b.Type:
			return 0
		case a.Type == twv1.ConditionReady:
			return -1
		case b.Type == twv1.ConditionReady:
			return 1
		case a.Type < b.Type:
			return -1
		default:
			return 1
		}
	})
}

// Problem is what keeps a condition False: its reason and message. Stalled marks a problem only
// the user can fix (bad input), as opposed to one that resolves as the cluster converges.
type Problem struct {
	Reason  string
	Message string
	Stalled bool
}
