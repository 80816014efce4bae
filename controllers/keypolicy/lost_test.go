package keypolicy

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

func keyringKey(tenant string) client.ObjectKey {
	return client.ObjectKey{Namespace: "tenant-" + tenant, Name: keyring.SecretName}
}

// liveKeyringSecret reads the keyring Secret from the API server; nil when there is none.
func liveKeyringSecret(t *testing.T, tenant string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	switch err := reconciler.APIReader.Get(ctx, keyringKey(tenant), s); {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		t.Fatal(err)
	}
	return s
}

// deleteKeyringByHand plays the mistake (or the attacker): the keyring Secret deleted with kubectl.
func deleteKeyringByHand(t *testing.T, tenant string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-" + tenant, Name: keyring.SecretName}}
	if err := k8s.Delete(ctx, s); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, timeout, func() error {
		if s := liveKeyringSecret(t, tenant); s != nil && s.DeletionTimestamp.IsZero() {
			return fmt.Errorf("keyring of %s not deleted yet", tenant)
		}
		return nil
	})
}

// expectNoKeyring reconciles a few times, with the test's reconciler and with the manager's, and
// fails if a keyring appears.
func expectNoKeyring(t *testing.T, policy, tenant string) {
	t.Helper()
	for range 3 {
		reconcilePolicy(t, policy)
		time.Sleep(300 * time.Millisecond)
		if s := liveKeyringSecret(t, tenant); s != nil {
			kr, _ := keyring.Parse(s.Data[keyring.DataKey])
			t.Fatalf("a keyring of tenant %s was deleted by hand and the operator replaced it silently (active version %d)", tenant, kr.Active)
		}
	}
}

func annotateTenant(t *testing.T, name, key, value string) {
	t.Helper()
	tn := &twv1.Tenant{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: name}, tn); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(tn.DeepCopy())
	if tn.Annotations == nil {
		tn.Annotations = map[string]string{}
	}
	tn.Annotations[key] = value
	if err := k8s.Patch(ctx, tn, patch); err != nil {
		t.Fatal(err)
	}
}

// waitLost waits for the policy to report the tenant's keyring lost, naming what is needed to recover.
func waitLost(t *testing.T, policy, tenant string, version int32, fingerprint string) {
	t.Helper()
	kp := waitPolicyCondition(t, policy, twv1.KeyPolicyConditionKeyringsReady, twv1.ReasonKeyringLost)
	msg := conditions.Get(kp.Status.Conditions, twv1.KeyPolicyConditionKeyringsReady).Message
	for _, want := range []string{tenant, fmt.Sprintf("version %d", version), fingerprint, twv1.AcknowledgeKeyringLossAnnotation, "Restore the Secret"} {
		if !strings.Contains(msg, want) {
			t.Errorf("KeyringLost message %q does not name %q", msg, want)
		}
	}
	if !conditions.IsTrue(kp.Status.Conditions, twv1.ConditionStalled) {
		t.Errorf("a lost keyring must stall the policy: %+v", kp.Status.Conditions)
	}
}

func TestDeletedKeyringIsNeverReplacedSilently(t *testing.T) {
	createPolicy(t, "lost", 2)
	createTenant(t, "lost-a", "lost")
	orig := keyringOf(t, "lost-a")
	waitPolicyReady(t, "lost", 1)
	settle(t, "lost")
	fingerprint := orig.ActiveVersion().Fingerprint()
	backup := liveKeyringSecret(t, "lost-a")

	deleteKeyringByHand(t, "lost-a")
	expectNoKeyring(t, "lost", "lost-a")
	waitLost(t, "lost", "lost-a", orig.Active, fingerprint)
	testenv.Eventually(t, timeout, func() error { return expectEvent("lost", twv1.ReasonKeyringLost) })

	// A restarted operator remembers nothing but what the cluster holds, and still refuses.
	restarted := (&Reconciler{Client: writes, APIReader: reconciler.APIReader, Scheme: reconciler.Scheme, Recorder: reconciler.Recorder, Clock: fakeClock,
		Children: reconciler.Children, Informers: reconciler.Informers}).complete()
	for range 2 {
		if _, err := restarted.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: "lost-a"}}); err != nil {
			t.Fatal(err)
		}
	}
	if k := tenantReport(t, "lost-a"); k.Reason != twv1.ReasonKeyringLost || !k.Stalled {
		t.Errorf("after a restart the tenant reports %+v, want KeyringLost", k)
	}
	// An acknowledgement that names another fingerprint covers nothing.
	annotateTenant(t, "lost-a", twv1.AcknowledgeKeyringLossAnnotation, "0000000000000000")
	expectNoKeyring(t, "lost", "lost-a")

	// Restoring the Secret from the backup brings the tenant back, on the same keys, unrotated.
	restored := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: backup.Namespace, Name: backup.Name, Labels: backup.Labels,
		Annotations: backup.Annotations}, Type: backup.Type, Data: backup.Data}
	if err := k8s.Create(ctx, restored); err != nil {
		t.Fatal(err)
	}
	waitPolicyReady(t, "lost", 1)
	settle(t, "lost")
	if s := liveKeyringSecret(t, "lost-a"); s == nil || !bytes.Equal(s.Data[keyring.DataKey], backup.Data[keyring.DataKey]) {
		t.Fatal("the restored keyring was changed")
	}

	// Losing it again and acknowledging that loss, by its fingerprint: a new keyring, numbered
	// after the lost version, recorded on the Tenant, and an event that says what was lost.
	deleteKeyringByHand(t, "lost-a")
	waitLost(t, "lost", "lost-a", orig.Active, fingerprint)
	// The manager's reconciler acts on the annotation; a second writer here would race it.
	annotateTenant(t, "lost-a", twv1.AcknowledgeKeyringLossAnnotation, fingerprint)
	var fresh *keyring.Keyring
	testenv.Eventually(t, timeout, func() error {
		fresh = keyringOf(t, "lost-a")
		tn := &twv1.Tenant{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: "lost-a"}, tn); err != nil {
			return err
		}
		if got := tn.Annotations[twv1.KeyringFingerprintAnnotation]; got != fresh.ActiveVersion().Fingerprint() {
			return fmt.Errorf("recorded fingerprint %s, want the new keyring's %s", got, fresh.ActiveVersion().Fingerprint())
		}
		return nil
	})
	if fresh.Active != orig.Active+1 || fresh.ActiveVersion().Fingerprint() == fingerprint {
		t.Errorf("after the acknowledged loss: active %d fingerprint %s, want version %d and new keys", fresh.Active, fresh.ActiveVersion().Fingerprint(), orig.Active+1)
	}
	waitPolicyReady(t, "lost", 1)
	testenv.Eventually(t, timeout, func() error { return expectEvent("lost", "KeyringLossAcknowledged") })
	// The acknowledgement named the old fingerprint: it does not cover losing the new keyring.
	settle(t, "lost")
	deleteKeyringByHand(t, "lost-a")
	expectNoKeyring(t, "lost", "lost-a")
	waitLost(t, "lost", "lost-a", fresh.Active, fresh.ActiveVersion().Fingerprint())
}

func TestForeignKeyringIsNotAdoptedSilently(t *testing.T) {
	createPolicy(t, "foreign", 2)
	createTenant(t, "foreign-a", "foreign")
	orig := keyringOf(t, "foreign-a")
	waitPolicyReady(t, "foreign", 1)
	settle(t, "foreign")
	fingerprint := orig.ActiveVersion().Fingerprint()
	template := liveKeyringSecret(t, "foreign-a")

	// Another keyring put in its place (another tenant's backup, an old one): same version, other keys.
	m, err := keyring.NewMaterial(nil)
	if err != nil {
		t.Fatal(err)
	}
	other := keyring.AddVersion(nil, orig.Algorithm, m, fakeClock.Now())
	raw, err := other.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	deleteKeyringByHand(t, "foreign-a")
	if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: template.Namespace, Name: template.Name, Labels: template.Labels},
		Type: corev1.SecretTypeOpaque, Data: map[string][]byte{keyring.DataKey: raw}}); err != nil {
		t.Fatal(err)
	}
	waitLost(t, "foreign", "foreign-a", orig.Active, fingerprint)
	reconcilePolicy(t, "foreign")
	if s := liveKeyringSecret(t, "foreign-a"); s == nil || !bytes.Equal(s.Data[keyring.DataKey], raw) {
		t.Fatal("the foreign keyring was changed before the loss was acknowledged")
	}

	// Acknowledged: the keyring present is adopted as it is and recorded.
	annotateTenant(t, "foreign-a", twv1.AcknowledgeKeyringLossAnnotation, fingerprint)
	waitPolicyReady(t, "foreign", 1)
	settle(t, "foreign")
	kr := keyringOf(t, "foreign-a")
	if kr.ActiveVersion().Fingerprint() != other.ActiveVersion().Fingerprint() {
		t.Errorf("after acknowledging, the keyring present was replaced (fingerprint %s, want %s)", kr.ActiveVersion().Fingerprint(), other.ActiveVersion().Fingerprint())
	}
}

// A purge destroys the keyring on purpose: the tenant is then not covered, never reported lost,
// and gets no keyring again.
func TestPurgedTenantIsNotALostKeyring(t *testing.T) {
	createPolicy(t, "purged", 2)
	createTenant(t, "purged-a", "purged")
	keyringOf(t, "purged-a")
	waitPolicyReady(t, "purged", 1)
	settle(t, "purged")

	tn := &twv1.Tenant{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: "purged-a"}, tn); err != nil {
		t.Fatal(err)
	}
	if _, ok := recordOf(tn); !ok {
		t.Fatalf("the keyring of tenant purged-a is not recorded: %v", tn.Annotations)
	}
	tn.Spec.State = twv1.TenantOffboarding
	tn.Annotations[twv1.PurgeImmediatelyAnnotation] = "true"
	if err := k8s.Update(ctx, tn); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, timeout, func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Name: "purged-a"}, tn); err != nil {
			return err
		}
		if tn.Status.PurgedAt == nil {
			return fmt.Errorf("tenant purged-a not purged yet")
		}
		return nil
	})
	kp := waitPolicyCondition(t, "purged", twv1.KeyPolicyConditionKeyringsReady, twv1.ReasonNoTenants)
	if !conditions.IsTrue(kp.Status.Conditions, twv1.ConditionReady) {
		t.Errorf("policy after its only tenant's purge: %+v", kp.Status.Conditions)
	}
	if s := liveKeyringSecret(t, "purged-a"); s != nil && s.DeletionTimestamp.IsZero() {
		t.Error("a purged tenant got a keyring again")
	}
	if err := expectEvent("purged", twv1.ReasonKeyringLost); err == nil {
		t.Error("a purged tenant was reported as a lost keyring")
	}
}

// behindCache is a cache behind the API server, as a second operator's during a leader hand-over
// or an informer that has not caught up: it holds a tenant's Tenant and keyring Secret as they
// were when snapshot (secret nil: not seen yet).
type behindCache struct {
	client.Client
	tenant *twv1.Tenant
	secret *corev1.Secret
}

func (b behindCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	switch o := obj.(type) {
	case *corev1.Secret:
		if key.Name != keyring.SecretName || key.Namespace != b.tenant.NamespaceName() {
			break
		}
		if b.secret == nil {
			return apierrors.NewNotFound(corev1.Resource("secrets"), key.Name)
		}
		b.secret.DeepCopyInto(o)
		return nil
	case *twv1.Tenant:
		if key.Name == b.tenant.Name {
			b.tenant.DeepCopyInto(o)
			return nil
		}
	}
	return b.Client.Get(ctx, key, obj, opts...)
}

// reconcileBehind reconciles a tenant with a reconciler of its own whose cache is behind.
func reconcileBehind(cache behindCache) error {
	behind := (&Reconciler{Client: cache, APIReader: reconciler.APIReader, Scheme: reconciler.Scheme,
		Recorder: reconciler.Recorder, Clock: fakeClock, Children: reconciler.Children, Informers: reconciler.Informers}).complete()
	_, err := behind.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: cache.tenant.Name}})
	return err
}

func liveTenant(t *testing.T, name string) *twv1.Tenant {
	t.Helper()
	tn := &twv1.Tenant{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: name}, tn); err != nil {
		t.Fatal(err)
	}
	return tn
}

// expectKeyring fails the test unless the tenant's keyring holds the data of want and its record on
// the Tenant names want's active version.
func expectKeyring(t *testing.T, tenant string, want *corev1.Secret) {
	t.Helper()
	live := liveKeyringSecret(t, tenant)
	if live == nil || !bytes.Equal(live.Data[keyring.DataKey], want.Data[keyring.DataKey]) {
		t.Fatal("the keyring was replaced by one made from an out-of-date read")
	}
	kr, err := keyring.Parse(live.Data[keyring.DataKey])
	if err != nil {
		t.Fatal(err)
	}
	if v, fp, _ := liveTenant(t, tenant).KeyringRecord(); v != kr.Active || fp != kr.ActiveVersion().Fingerprint() {
		t.Errorf("record on the Tenant: version %d fingerprint %s, want the keyring's %d %s", v, fp, kr.Active, kr.ActiveVersion().Fingerprint())
	}
}

// TestKeyringNeverReplacedUnread: a reconciler whose cache is behind the API server never writes
// over keys it has not read. One that has not seen the keyring would make a new one; one that has
// not seen the last rotation would roll it back, and data sealed under the newer version would be
// unreadable. Both writes are refused.
func TestKeyringNeverReplacedUnread(t *testing.T) {
	readyPolicyWithTenants(t, "unread", "unread-a")

	first := liveKeyringSecret(t, "unread-a")
	unseen := liveTenant(t, "unread-a")
	delete(unseen.Annotations, twv1.KeyringVersionAnnotation)
	delete(unseen.Annotations, twv1.KeyringFingerprintAnnotation)
	if err := reconcileBehind(behindCache{Client: reconciler.Client, tenant: unseen}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("reconcile of a keyring not cached yet: error %v, want AlreadyExists", err)
	}
	expectKeyring(t, "unread-a", first)

	before := behindCache{Client: reconciler.Client, tenant: liveTenant(t, "unread-a"), secret: liveKeyringSecret(t, "unread-a")}
	requestRotation(t, "unread", &twv1.KeyRotationRequest{Request: "r1"})
	testenv.Eventually(t, timeout, func() error {
		if v := tenantReport(t, "unread-a"); v.RotationRequest != "r1" {
			return fmt.Errorf("tenant report %+v, want rotation request r1 carried out", v)
		}
		return nil
	})
	// Without the request, the behind cache's keyring is not due for rotation: a reconciler that
	// trusted it would write it back as it was.
	requestRotation(t, "unread", nil)
	testenv.Eventually(t, timeout, func() error {
		kp := &twv1.KeyPolicy{}
		if err := reconciler.Client.Get(ctx, client.ObjectKey{Name: "unread"}, kp); err != nil || kp.Spec.RotateNow != nil {
			return fmt.Errorf("cached policy still requests a rotation (%v)", err)
		}
		return nil
	})
	rotated := liveKeyringSecret(t, "unread-a")
	if err := reconcileBehind(before); !apierrors.IsConflict(err) {
		t.Errorf("reconcile of a keyring cached before its rotation: error %v, want Conflict", err)
	}
	expectKeyring(t, "unread-a", rotated)
}
