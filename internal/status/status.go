// Package status writes a resource's status the same way for every kind: at most one write per
// reconcile and none when nothing changed, steps of normal progress coalesced (see Coalescer), the
// Ready metric kept current, and one event per Ready transition.
package status

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/metrics"
)

// Kind says how to read one kind's status and what its Ready event says.
type Kind[S any] struct {
	// Name is the kind, as the Ready metric labels it.
	Name               string
	Conditions         func(*S) []metav1.Condition
	ObservedGeneration func(*S) int64
	// ReadyMessage is the event message when Ready turns True.
	ReadyMessage string
	// Urgent, if set, reports a change that is written at once even while Ready only reports
	// progress: one that an event was recorded for, say, which would be recorded again by every
	// reconcile until the status shows it.
	Urgent func(current, next *S) bool
}

// Writer is what a controller writes statuses with.
type Writer struct {
	Client   client.Client
	Recorder record.EventRecorder
	// Coalescer defers steps of normal progress; nil writes every change at once.
	Coalescer *Coalescer
}

// Write replaces *current (the status field of obj) with next and patches the status subresource
// if they differ, unless the change is a step of normal progress the Coalescer defers: then nothing
// is written and the returned duration (otherwise zero) is when to reconcile again to write it.
func Write[S any](ctx context.Context, w Writer, obj client.Object, k Kind[S], current *S, next S) (time.Duration, error) {
	return write(ctx, w, obj, k, current, next, false)
}

// WriteAfterStep is Write for a reconcile that has just taken the step next reports, such as
// applying a new Deployment: a progress-only change then waits SettleDelay from now, not from the
// first deferred step, since it would show a state that is out of date within a second.
func WriteAfterStep[S any](ctx context.Context, w Writer, obj client.Object, k Kind[S], current *S, next S) (time.Duration, error) {
	return write(ctx, w, obj, k, current, next, true)
}

func write[S any](ctx context.Context, w Writer, obj client.Object, k Kind[S], current *S, next S, stepped bool) (time.Duration, error) {
	nextConds := k.Conditions(&next)
	equal := equality.Semantic.DeepEqual(*current, next)
	progress := false
	if w.Coalescer != nil {
		// Only a change needs telling apart from the one deferred before; a converged reconcile
		// skips the encoding.
		var nextDigest uint64
		if !equal {
			nextDigest = digest(next)
		}
		d := w.Coalescer.decide(obj.GetUID(),
			summarize(k.Conditions(current), k.ObservedGeneration(current), 0),
			summarize(nextConds, k.ObservedGeneration(&next), nextDigest), equal, k.Urgent != nil && k.Urgent(current, &next), stepped)
		if !d.write {
			// Jitter spreads the writes of objects created together.
			return jitter(d.requeueAfter), nil
		}
		progress = d.progress
	} else if equal {
		return 0, nil
	}
	conditions.RecordReadyTransition(w.Recorder, obj, nextConds, conditions.Get(k.Conditions(current), twv1.ConditionReady), k.ReadyMessage)
	base, ok := obj.DeepCopyObject().(client.Object)
	if !ok {
		return 0, nil
	}
	patch := client.MergeFrom(base)
	*current = next
	if err := w.Client.Status().Patch(ctx, obj, patch); err != nil {
		return 0, err
	}
	reason := ""
	if ready := conditions.Get(nextConds, twv1.ConditionReady); ready != nil {
		reason = ready.Reason
	}
	metrics.StatusWrites.WithLabelValues(k.Name, reason).Inc()
	if w.Coalescer != nil {
		w.Coalescer.written(obj.GetUID(), progress)
	}
	return 0, nil
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return wait.Jitter(d, 0.1)
}

// Sooner returns res with RequeueAfter lowered to after when after is sooner; zero means never.
func Sooner(res ctrl.Result, after time.Duration) ctrl.Result {
	if after > 0 && (res.RequeueAfter == 0 || after < res.RequeueAfter) {
		res.RequeueAfter = after
	}
	return res
}

// digest fingerprints a status, to tell whether a deferred change is still the same one.
func digest(st any) uint64 {
	// An Encoder writes from a pooled buffer (json.Marshal copies the encoding out of it).
	h := fnv.New64a()
	if err := json.NewEncoder(h).Encode(st); err != nil {
		return 0
	}
	return h.Sum64()
}
