package integration

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// rollout is a sync Deployment at a keyring version with the given status.
func rollout(version string, replicas int32, mut ...func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "sync-a-sync", Generation: 3},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(replicas)},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: replicas, UpdatedReplicas: replicas,
			ReadyReplicas: replicas, AvailableReplicas: replicas},
	}
	if version != "" {
		d.Spec.Template.Annotations = map[string]string{KeyringVersionAnnotation: version}
	}
	for _, m := range mut {
		m(d)
	}
	return d
}

func TestRewrappedVersion(t *testing.T) {
	tests := map[string]struct {
		deployment *appsv1.Deployment
		want       int32
	}{
		"available on version 4":                             {deployment: rollout("4", 1), want: 4},
		"available on version 4, replicas unset (one)":       {deployment: rollout("4", 1, func(d *appsv1.Deployment) { d.Spec.Replicas = nil }), want: 4},
		"no Deployment (stopped, not started)":               {deployment: nil},
		"no keyring (not a consumer)":                        {deployment: rollout("", 1)},
		"unparsable version":                                 {deployment: rollout("four", 1)},
		"paused (zero replicas) proves nothing":              {deployment: rollout("4", 0)},
		"rollout not observed yet":                           {deployment: rollout("4", 1, func(d *appsv1.Deployment) { d.Status.ObservedGeneration = 2 })},
		"old replica still running":                          {deployment: rollout("4", 1, func(d *appsv1.Deployment) { d.Status.Replicas = 2 })},
		"replica not updated yet":                            {deployment: rollout("4", 1, func(d *appsv1.Deployment) { d.Status.UpdatedReplicas = 0 })},
		"updated replica not available yet (rewrap running)": {deployment: rollout("4", 1, func(d *appsv1.Deployment) { d.Status.AvailableReplicas = 0 })},
		"old replica still terminating":                      {deployment: rollout("4", 1, func(d *appsv1.Deployment) { d.Status.TerminatingReplicas = ptr.To[int32](1) })},
		"Deployment being deleted": {deployment: rollout("4", 1, func(d *appsv1.Deployment) {
			now := metav1.Now()
			d.DeletionTimestamp = &now
		})},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := rewrappedVersion(tc.deployment); got != tc.want {
				t.Errorf("rewrappedVersion = %d, want %d", got, tc.want)
			}
			st := keyringStatus(tc.deployment)
			if (st != nil) != (tc.want > 0) || (st != nil && st.RewrappedVersion != tc.want) {
				t.Errorf("keyringStatus = %+v, want version %d", st, tc.want)
			}
		})
	}
}
