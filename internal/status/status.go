// Package status writes a resource's status the same way for every kind: at most one write per
// reconcile and none when nothing changed, the Ready metric kept current, and one event per Ready
// transition.
package status

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/metrics"
)

// Write replaces *current (the status field of obj) with next and patches the status subresource
// if they differ. conditionsOf returns a status's conditions; readyMessage is the event message
// when Ready turns True.
func Write[S any](ctx context.Context, c client.Client, rec record.EventRecorder, obj client.Object, kind string,
	current *S, next S, conditionsOf func(*S) []metav1.Condition, readyMessage string) error {
	nextConds := conditionsOf(&next)
	ready := conditions.Get(nextConds, twv1.ConditionReady)
	metrics.SetReady(kind, obj.GetNamespace(), obj.GetName(), ready != nil && ready.Status == metav1.ConditionTrue)
	if equality.Semantic.DeepEqual(*current, next) {
		return nil
	}
	conditions.RecordReadyTransition(rec, obj, nextConds, conditions.Get(conditionsOf(current), twv1.ConditionReady), readyMessage)
	base, ok := obj.DeepCopyObject().(client.Object)
	if !ok {
		return nil
	}
	patch := client.MergeFrom(base)
	*current = next
	return c.Status().Patch(ctx, obj, patch)
}
