package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// TestConsumerWaitsForItsKeyring: a keyring consumer writes neither its sync config nor its
// Deployment before the keyring exists, so each is written once, naming the keyring, when it comes.
// (No KeyPolicy controller runs in this suite: the test plays it.)
func TestConsumerWaitsForItsKeyring(t *testing.T) {
	ns := keyringTenant(t, "kappa")
	in := newIntegration(ns, "consumer")
	in.Labels = map[string]string{"tenantwire.io/uses-keyring": "true"}
	createIntegration(t, in)
	syncCredentials(t, in, "v1")

	waitCondition(t, in, twv1.IntegrationConditionWorkloadReady, metav1.ConditionFalse, twv1.ReasonDependencyNotReady)
	cmKey := client.ObjectKey{Namespace: ns, Name: configName(in)}
	if err := k8s.Get(ctx, cmKey, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("the sync config exists before the keyring (err=%v)", err)
	}
	if _, err := getDeployment(in); !apierrors.IsNotFound(err) {
		t.Errorf("the Deployment exists before the keyring (err=%v)", err)
	}

	setActiveKeyring(t, ns, "1")
	testenv.Eventually(t, timeout, func() error {
		cm := &corev1.ConfigMap{}
		if err := k8s.Get(ctx, cmKey, cm); err != nil {
			return err
		}
		if !strings.Contains(cm.Data["sync.yaml"], keyring.DataKey) {
			return fmt.Errorf("sync config does not name the keyring file")
		}
		_, err := getDeployment(in)
		return err
	})

	// The KeyPolicy's trim reads what the workload proved in status.keyring: nothing before the
	// Deployment is available on the version, the version once it is, nothing again once paused.
	if got := getIntegration(t, in); got.Status.Keyring != nil {
		t.Errorf("status.keyring = %+v before the workload is available, want none", got.Status.Keyring)
	}
	markAvailable(t, in)
	waitRewrapped(t, in, 1)
	paused := getIntegration(t, in)
	paused.Spec.State = twv1.StatePaused
	if err := k8s.Update(ctx, paused); err != nil {
		t.Fatal(err)
	}
	waitRewrapped(t, in, 0)
}

// waitRewrapped waits for status.keyring to report version (0: no version).
func waitRewrapped(t *testing.T, in *twv1.Integration, version int32) {
	t.Helper()
	testenv.Eventually(t, timeout, func() error {
		var got int32
		if k := getIntegration(t, in).Status.Keyring; k != nil {
			got = k.RewrappedVersion
		}
		if got != version {
			return fmt.Errorf("status.keyring.rewrappedVersion = %d, want %d", got, version)
		}
		return nil
	})
}

// keyringTenant creates a Tenant whose KeyPolicy of its own lets Integrations labelled
// tenantwire.io/uses-keyring=true read its keyring, and returns the tenant namespace.
func keyringTenant(t *testing.T, name string) string {
	t.Helper()
	policy := &twv1.KeyPolicy{ObjectMeta: metav1.ObjectMeta{Name: name + "-keys"},
		Spec: twv1.KeyPolicySpec{Algorithm: twv1.AlgorithmAES256GCM,
			Source:    twv1.KeySource{Type: twv1.KeySourceGenerated},
			Rotation:  twv1.KeyRotation{Period: metav1.Duration{Duration: 2160 * time.Hour}, RetainVersions: 2},
			Consumers: &metav1.LabelSelector{MatchLabels: map[string]string{"tenantwire.io/uses-keyring": "true"}}}}
	if err := k8s.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, policy) })
	tn := &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: twv1.TenantSpec{DisplayName: name,
		KeyPolicyRef: &twv1.KeyPolicyReference{Name: policy.Name},
		SecretStore:  &twv1.TenantSecretStore{Kind: "ClusterSecretStore", Name: "vault", PathPrefix: "tenants/" + name + "/"}}}
	if err := k8s.Create(ctx, tn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, tn) })
	ns := tn.NamespaceName()
	testenv.Eventually(t, timeout, func() error { return k8s.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}) })
	return ns
}
