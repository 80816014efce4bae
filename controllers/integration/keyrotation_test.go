package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/metrics"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// TestKeyRotationRollsExactlyOnce: each new active keyring version (as the KeyPolicy controller
// writes it on rotation) rolls a consumer's sync pods once, with one KeysRotated event and one
// tenantwire_workload_rollouts_total{cause="keys"}; a converged consumer announces nothing more.
// (No KeyPolicy controller runs in this suite: the test plays it.)
func TestKeyRotationRollsExactlyOnce(t *testing.T) {
	ns := keyringTenant(t, "lambda")
	in := newIntegration(ns, "key-consumer")
	in.Labels = map[string]string{"tenantwire.io/uses-keyring": "true"}
	createIntegration(t, in)
	syncCredentials(t, in, "v1")
	setActiveKeyring(t, ns, "1")
	testenv.Eventually(t, timeout, func() error { _, err := getDeployment(in); return err })
	markAvailable(t, in)
	waitCondition(t, in, twv1.ConditionReady, metav1.ConditionTrue, "")
	rollouts := metrics.WorkloadRollouts.WithLabelValues("keys")
	rollouts0 := testutil.ToFloat64(rollouts)
	d, err := getDeployment(in)
	if err != nil {
		t.Fatal(err)
	}
	gen0 := d.Generation
	if n := countEvents(t, in, corev1.EventTypeNormal, "KeysRotated"); n != 0 {
		t.Fatalf("%d KeysRotated events before any rotation, want 0", n)
	}

	for i, version := range []string{"2", "3"} {
		rotations := int32(i + 1)
		setActiveKeyring(t, ns, version)
		testenv.Eventually(t, timeout, func() error {
			if d, _ = getDeployment(in); d.Spec.Template.Annotations[KeyringVersionAnnotation] != version {
				return fmt.Errorf("template at keyring version %q, want %s", d.Spec.Template.Annotations[KeyringVersionAnnotation], version)
			}
			if n := countEvents(t, in, corev1.EventTypeNormal, "KeysRotated"); n != rotations {
				return fmt.Errorf("%d KeysRotated events, want %d", n, rotations)
			}
			return nil
		})
		markAvailable(t, in)
		waitCondition(t, in, twv1.ConditionReady, metav1.ConditionTrue, "")
		time.Sleep(time.Second)
		if d, _ = getDeployment(in); d.Generation != gen0+int64(rotations) {
			t.Errorf("after %d rotations the template changed %d times", rotations, d.Generation-gen0)
		}
		if n := countEvents(t, in, corev1.EventTypeNormal, "KeysRotated"); n != rotations {
			t.Errorf("%d KeysRotated events after %d rotations, want %d", n, rotations, rotations)
		}
		if n := testutil.ToFloat64(rollouts) - rollouts0; n != float64(rotations) {
			t.Errorf("tenantwire_workload_rollouts_total{cause=\"keys\"} rose by %v after %d rotations, want %d", n, rotations, rotations)
		}
	}
}

// setActiveKeyring creates the tenant's keyring Secret, or moves its active version, as the KeyPolicy
// controller does.
func setActiveKeyring(t *testing.T, ns, version string) {
	t.Helper()
	secret := &corev1.Secret{}
	err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: keyring.SecretName}, secret)
	switch {
	case apierrors.IsNotFound(err):
		secret = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: keyring.SecretName,
			Labels:      map[string]string{labels.ManagedBy: labels.ManagedByValue},
			Annotations: map[string]string{keyring.ActiveVersionAnnotation: version}}}
		err = k8s.Create(ctx, secret)
	case err == nil:
		secret.Annotations[keyring.ActiveVersionAnnotation] = version
		err = k8s.Update(ctx, secret)
	}
	if err != nil {
		t.Fatal(err)
	}
}
