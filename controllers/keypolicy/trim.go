package keypolicy

import (
	"context"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/controllers/integration"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/labels"
)

// consumerRollout is one consumer Integration and its sync Deployment (nil when there is none).
type consumerRollout struct {
	integration string
	deployment  *appsv1.Deployment
}

// trimDecision is what the trim guard keeps of a keyring.
type trimDecision struct {
	keyring *keyring.Keyring
	// held is the number of versions kept beyond retention, lagging the consumers that hold them.
	held, lagging int
}

// decideTrim drops the versions beyond retain before the active one only when no consumer can
// still hold mapping rows under them. The contract with the sync runtime: a sync pod becomes Ready
// only after every row of its store is under the keyring's active version. So a consumer whose
// Deployment runs the active version everywhere and is fully available has rewrapped its rows,
// and once every consumer has, the older versions decrypt nothing. A consumer with no running pod
// (paused, stopped, suspended, or not yet started) has not rewrapped: its store may well hold rows
// under an old version, so it holds the versions until it has run on the active one. Adding a
// version is never held up, only dropping one.
func decideTrim(kr *keyring.Keyring, retain int, consumers []consumerRollout) trimDecision {
	extra := len(kr.Versions) - (retain + 1)
	if extra <= 0 {
		return trimDecision{keyring: kr}
	}
	active := strconv.Itoa(int(kr.Active))
	lagging := 0
	for _, c := range consumers {
		if !rewrapped(c.deployment, active) {
			lagging++
		}
	}
	if lagging > 0 {
		return trimDecision{keyring: kr, held: extra, lagging: lagging}
	}
	return trimDecision{keyring: keyring.Trim(kr, retain)}
}

// rewrapped reports whether a consumer's Deployment proves that its store is under the active
// version: the pod template carries that version, the rollout is complete (the controller saw the
// latest spec, every replica is updated and no old one is left), and every replica is available,
// which the runtime reaches only after its rewrap. Zero replicas prove nothing.
func rewrapped(d *appsv1.Deployment, active string) bool {
	if d == nil || !d.DeletionTimestamp.IsZero() || d.Spec.Template.Annotations[integration.KeyringVersionAnnotation] != active {
		return false
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	terminating := s.TerminatingReplicas != nil && *s.TerminatingReplicas > 0
	return want > 0 && s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.Replicas == want &&
		s.AvailableReplicas >= want && !terminating
}

// consumerRollouts pairs each consumer with its sync Deployment, read from the cache, which holds
// the Deployments tenantwire labelled for the Integration controller.
func (r *Reconciler) consumerRollouts(ctx context.Context, t *twv1.Tenant, consumers []twv1.Integration) ([]consumerRollout, error) {
	list := &appsv1.DeploymentList{}
	if err := r.Client.List(ctx, list, client.InNamespace(t.NamespaceName()), client.HasLabels{labels.Integration}); err != nil {
		return nil, err
	}
	// Only the Deployment the Integration controls speaks for it.
	byOwner := map[types.UID]*appsv1.Deployment{}
	for i := range list.Items {
		if ref := metav1.GetControllerOf(&list.Items[i]); ref != nil {
			byOwner[ref.UID] = &list.Items[i]
		}
	}
	out := make([]consumerRollout, 0, len(consumers))
	for _, in := range consumers {
		out = append(out, consumerRollout{integration: in.Name, deployment: byOwner[in.UID]})
	}
	return out, nil
}
