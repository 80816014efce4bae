package keypolicy

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/tenantwire/tenantwire/controllers/integration"
	"github.com/tenantwire/tenantwire/internal/keyring"
)

// rollout is a consumer Deployment at a keyring version with the given status.
func rollout(version string, replicas int32, mut ...func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "sync-a-sync", Generation: 3},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(replicas)},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: replicas, UpdatedReplicas: replicas,
			ReadyReplicas: replicas, AvailableReplicas: replicas},
	}
	d.Spec.Template.Annotations = map[string]string{integration.KeyringVersionAnnotation: version}
	for _, m := range mut {
		m(d)
	}
	return d
}

func TestDecideTrim(t *testing.T) {
	wide := untrimmedKeyring(4)
	active := strconv.Itoa(int(wide.Active))
	tests := map[string]struct {
		consumers   []consumerRollout
		retain      int
		wantVersion string
		wantLagging int
	}{
		"within retention: nothing to decide": {retain: 3, wantVersion: "[1 2 3 4]"},
		"no consumers: trimmed":               {retain: 1, wantVersion: "[3 4]"},
		"every consumer available on the active version: trimmed": {retain: 1, wantVersion: "[3 4]",
			consumers: []consumerRollout{{"a", rollout(active, 1)}, {"b", rollout(active, 2)}}},
		"one consumer still on the previous version": {retain: 1, wantVersion: "[1 2 3 4]", wantLagging: 1,
			consumers: []consumerRollout{{"a", rollout(active, 1)}, {"b", rollout("3", 1)}}},
		"paused consumer (zero replicas) has not rewrapped": {retain: 1, wantVersion: "[1 2 3 4]", wantLagging: 1,
			consumers: []consumerRollout{{"a", rollout(active, 0)}}},
		"consumer without a Deployment (stopped, not started) has not rewrapped": {retain: 1, wantVersion: "[1 2 3 4]", wantLagging: 1,
			consumers: []consumerRollout{{"a", nil}}},
		"rollout not observed yet": {retain: 1, wantVersion: "[1 2 3 4]", wantLagging: 1,
			consumers: []consumerRollout{{"a", rollout(active, 1, func(d *appsv1.Deployment) { d.Status.ObservedGeneration = 2 })}}},
		"old replica still running": {retain: 1, wantVersion: "[1 2 3 4]", wantLagging: 1,
			consumers: []consumerRollout{{"a", rollout(active, 2, func(d *appsv1.Deployment) { d.Status.Replicas, d.Status.UpdatedReplicas = 3, 2 })}}},
		"updated replica not available yet (rewrap running)": {retain: 1, wantVersion: "[1 2 3 4]", wantLagging: 1,
			consumers: []consumerRollout{{"a", rollout(active, 2, func(d *appsv1.Deployment) { d.Status.AvailableReplicas = 1 })}}},
		"old replica still terminating": {retain: 1, wantVersion: "[1 2 3 4]", wantLagging: 1,
			consumers: []consumerRollout{{"a", rollout(active, 1, func(d *appsv1.Deployment) { d.Status.TerminatingReplicas = ptr.To[int32](1) })}}},
		"Deployment being deleted": {retain: 1, wantVersion: "[1 2 3 4]", wantLagging: 1,
			consumers: []consumerRollout{{"a", rollout(active, 1, func(d *appsv1.Deployment) { now := metav1.NewTime(t0); d.DeletionTimestamp = &now })}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := decideTrim(wide, tc.retain, tc.consumers)
			if got := fmt.Sprint(d.keyring.VersionNumbers()); got != tc.wantVersion {
				t.Errorf("versions %s, want %s", got, tc.wantVersion)
			}
			if d.lagging != tc.wantLagging {
				t.Errorf("lagging %d, want %d", d.lagging, tc.wantLagging)
			}
			wantHeld := 0
			if tc.wantLagging > 0 {
				wantHeld = len(wide.Versions) - (tc.retain + 1)
			}
			if d.held != wantHeld {
				t.Errorf("held %d, want %d", d.held, wantHeld)
			}
			if d.keyring.Active != wide.Active {
				t.Errorf("active version moved to %d", d.keyring.Active)
			}
		})
	}
}

// untrimmedKeyring has versions 1..n, none dropped.
func untrimmedKeyring(n int) *keyring.Keyring {
	var k *keyring.Keyring
	for i := range n {
		m := keyring.Material{EncryptionKey: bytes.Repeat([]byte{byte(i)}, 32), HMACKey: bytes.Repeat([]byte{byte(i + 100)}, 32)}
		k = keyring.AddVersion(k, "AES-256-GCM", m, t0.Add(time.Duration(i)*time.Hour))
	}
	return k
}
