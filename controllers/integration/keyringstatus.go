package integration

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// keyringStatus is what the sync Deployment proves about the keyring version its store is under,
// reported in status.keyring for the KeyPolicy controller's trim decision; nil when it proves
// nothing.
func keyringStatus(d *appsv1.Deployment) *twv1.IntegrationKeyringStatus {
	if v := rewrappedVersion(d); v > 0 {
		return &twv1.IntegrationKeyringStatus{RewrappedVersion: v}
	}
	return nil
}

// rewrappedVersion is the keyring version a sync Deployment proves its store is under, 0 when it
// proves none. The contract with the sync runtime: a sync pod becomes Ready only after every row
// of its store is under the keyring's active version. So a Deployment whose pod template carries
// version N, whose rollout is complete (the Deployment controller saw the latest spec, every
// replica is updated and no old one is left or terminating) and whose every replica is
// available has rewrapped to N. Zero replicas (paused, suspended, awaiting approval) prove
// nothing, nor does a Deployment being deleted or a workload without a keyring.
func rewrappedVersion(d *appsv1.Deployment) int32 {
	if d == nil || !d.DeletionTimestamp.IsZero() {
		return 0
	}
	v, err := strconv.ParseInt(d.Spec.Template.Annotations[KeyringVersionAnnotation], 10, 32)
	if err != nil || v < 1 {
		return 0
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	terminating := s.TerminatingReplicas != nil && *s.TerminatingReplicas > 0
	if want < 1 || s.ObservedGeneration < d.Generation || s.UpdatedReplicas != want || s.Replicas != want ||
		s.AvailableReplicas < want || terminating {
		return 0
	}
	return int32(v)
}
