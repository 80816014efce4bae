package keypolicy

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

const timeout = 20 * time.Second

var ctx = context.Background()

func createPolicy(t *testing.T, name string, retain int32, mut ...func(*twv1.KeyPolicy)) *twv1.KeyPolicy {
	t.Helper()
	kp := &twv1.KeyPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: twv1.KeyPolicySpec{
		Rotation: twv1.KeyRotation{Period: metav1.Duration{Duration: 24 * time.Hour}, RetainVersions: retain},
	}}
	for _, m := range mut {
		m(kp)
	}
	if err := k8s.Create(ctx, kp); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, kp) })
	return kp
}

func createTenant(t *testing.T, name, policy string, admins ...twv1.Subject) {
	t.Helper()
	tn := &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: twv1.TenantSpec{DisplayName: name, Admins: admins,
		SecretStore: &twv1.TenantSecretStore{Kind: "ClusterSecretStore", Name: "vault", PathPrefix: "tenants/" + name}}}
	if policy != "" {
		tn.Spec.KeyPolicyRef = &twv1.KeyPolicyReference{Name: policy}
	}
	if err := k8s.Create(ctx, tn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, tn) })
}

func keyringOf(t *testing.T, tenant string) *keyring.Keyring {
	t.Helper()
	var kr *keyring.Keyring
	testenv.Eventually(t, timeout, func() error {
		key := client.ObjectKey{Namespace: "tenant-" + tenant, Name: keyring.SecretName}
		s, cached := &corev1.Secret{}, &corev1.Secret{}
		if err := k8s.Get(ctx, key, s); err != nil {
			return err
		}
		// The test's reconciler reads the cache: one that has not seen this keyring yet would
		// have its write refused (apply.Replacing) and fail the test for no fault of the code.
		if err := reconciler.Client.Get(ctx, key, cached); err != nil || cached.ResourceVersion != s.ResourceVersion {
			return fmt.Errorf("keyring of tenant %s not cached at resourceVersion %s yet (%v)", tenant, s.ResourceVersion, err)
		}
		var err error
		kr, err = keyring.Parse(s.Data[keyring.DataKey])
		return err
	})
	return kr
}

// reconcilePolicy does what the two controllers do for a policy, with the test's reconciler: the
// keyring reconcile of each covered tenant, then the status aggregation. It returns the earliest
// requeue among the tenants.
func reconcilePolicy(t *testing.T, name string) ctrl.Result {
	t.Helper()
	return reconcileWith(t, reconciler, name)
}

func reconcileWith(t *testing.T, rec *Reconciler, name string) ctrl.Result {
	t.Helper()
	kp := &twv1.KeyPolicy{}
	if err := rec.Client.Get(ctx, client.ObjectKey{Name: name}, kp); err != nil {
		t.Fatal(err)
	}
	covered, err := rec.coveredTenants(ctx, kp, fakeClock.Now())
	if err != nil {
		t.Fatal(err)
	}
	earliest := ctrl.Result{}
	for _, tn := range covered {
		res := reconcileRetryingRefusedWrites(t, rec, tn.Name)
		if earliest.RequeueAfter == 0 || (res.RequeueAfter > 0 && res.RequeueAfter < earliest.RequeueAfter) {
			earliest = res
		}
	}
	// The tenants' reports reach the cache a moment after they are written.
	testenv.Eventually(t, timeout, func() error {
		res, err := rec.reconcileStatus(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: name}})
		if err != nil {
			return err
		}
		if res.RequeueAfter != 0 {
			return fmt.Errorf("status of %s waits for a tenant that has not reported, after every covered tenant was reconciled", name)
		}
		return nil
	})
	return earliest
}

// settle waits for the cache to hold the last writes, then reconciles until nothing is written.
func settle(t *testing.T, name string) {
	t.Helper()
	testenv.Eventually(t, timeout, func() error {
		before := writes.Writes()
		reconcilePolicy(t, name)
		if n := writes.Writes() - before; n != 0 {
			return fmt.Errorf("reconcile still writing (%d writes)", n)
		}
		return nil
	})
}

func waitPolicyReady(t *testing.T, name string, tenants int32) *twv1.KeyPolicy {
	t.Helper()
	kp := &twv1.KeyPolicy{}
	testenv.Eventually(t, timeout, func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Name: name}, kp); err != nil {
			return err
		}
		if !conditions.IsTrue(kp.Status.Conditions, twv1.ConditionReady) || kp.Status.TenantCount != tenants || kp.Status.ObservedGeneration != kp.Generation {
			return fmt.Errorf("policy %s: %+v", name, kp.Status)
		}
		return nil
	})
	return kp
}

func TestRotationHappensExactlyWhenDueAndHonoursRetention(t *testing.T) {
	createPolicy(t, "daily", 1)
	createTenant(t, "rot", "daily")
	kr := keyringOf(t, "rot")
	kp := waitPolicyReady(t, "daily", 1)
	report := tenantReport(t, "rot")
	if kr.Active != 1 || kp.Status.CurrentCount != 1 || report.ActiveVersion != 1 || report.NextRotation == nil ||
		report.Fingerprint != kr.ActiveVersion().Fingerprint() {
		t.Fatalf("initial keyring %v, tenant report %+v, policy status %+v", kr.VersionNumbers(), report, kp.Status)
	}
	// The writes counted below are the test reconciler's: the manager's stays away from the tenant.
	holdManagerOff(t, "rot")
	settle(t, "daily")
	created := kr.ActiveVersion().Created

	// One second before due: nothing happens, and the requeue points at the due time.
	fakeClock.SetTime(created.Add(24*time.Hour - time.Second))
	before := writes.Writes()
	res := reconcilePolicy(t, "daily")
	if n := writes.Writes() - before; n != 0 {
		t.Errorf("reconcile before due made %d writes", n)
	}
	if res.RequeueAfter < time.Second || res.RequeueAfter > 3*time.Second {
		t.Errorf("RequeueAfter = %s, want about 1s (the time left until due)", res.RequeueAfter)
	}

	// At the due time: exactly one Secret write, the record of the new version on the Tenant
	// (lost.go) and one status write.
	fakeClock.SetTime(created.Add(24 * time.Hour))
	before = writes.Writes()
	res = reconcilePolicy(t, "daily")
	if n := writes.Writes() - before; n != 3 {
		t.Errorf("rotation made %d writes, want 3 (keyring Secret, Tenant record, status): %v", n, writes.Since(before))
	}
	if res.RequeueAfter < 23*time.Hour || res.RequeueAfter > 25*time.Hour {
		t.Errorf("RequeueAfter after rotation = %s, want about a period", res.RequeueAfter)
	}
	kr = keyringOf(t, "rot")
	if kr.Active != 2 || fmt.Sprint(kr.VersionNumbers()) != "[1 2]" {
		t.Errorf("after one rotation: active %d versions %v", kr.Active, kr.VersionNumbers())
	}

	// Another period: retention 1 drops version 1.
	fakeClock.SetTime(created.Add(48 * time.Hour))
	reconcilePolicy(t, "daily")
	testenv.Eventually(t, timeout, func() error {
		kr = keyringOf(t, "rot")
		if fmt.Sprint(kr.VersionNumbers()) != "[2 3]" || kr.Active != 3 {
			return fmt.Errorf("versions %v active %d, want [2 3] active 3", kr.VersionNumbers(), kr.Active)
		}
		return nil
	})
}

func TestRestartDoesNotRotate(t *testing.T) {
	createPolicy(t, "restart", 2)
	createTenant(t, "steady", "restart")
	first := keyringOf(t, "steady")
	waitPolicyReady(t, "restart", 1)
	settle(t, "restart")

	// A new reconciler (a restarted operator) on the same clock sees the same keyring and writes nothing.
	restarted := (&Reconciler{Client: writes, APIReader: reconciler.APIReader, Scheme: reconciler.Scheme, Recorder: reconciler.Recorder, Clock: fakeClock,
		Children: reconciler.Children, Informers: reconciler.Informers}).complete()
	before := writes.Writes()
	reconcileWith(t, restarted, "restart")
	if n := writes.Writes() - before; n != 0 {
		t.Errorf("restart made %d writes", n)
	}
	if after := keyringOf(t, "steady"); after.Active != first.Active {
		t.Errorf("restart rotated: %d -> %d", first.Active, after.Active)
	}
}

func TestOnDemandRotation(t *testing.T) {
	readyPolicyWithTenants(t, "ondemand", "urgent", "calm")

	requestRotation(t, "ondemand", &twv1.KeyRotationRequest{Request: "incident-42", Tenants: []string{"urgent"}})
	kp := &twv1.KeyPolicy{}
	testenv.Eventually(t, timeout, func() error {
		if kr := keyringOf(t, "urgent"); kr.Active != 2 {
			return fmt.Errorf("urgent still at version %d", kr.Active)
		}
		if err := k8s.Get(ctx, client.ObjectKey{Name: "ondemand"}, kp); err != nil {
			return err
		}
		if rn := kp.Status.RotateNow; rn == nil || *rn != (twv1.KeyRotationRequestStatus{Request: "incident-42", Rotated: 1}) {
			return fmt.Errorf("status.rotateNow = %+v, want incident-42 carried out by 1 tenant", rn)
		}
		return nil
	})
	if k := tenantReport(t, "urgent"); k.RotationRequest != "incident-42" {
		t.Errorf("urgent reports %+v, want rotationRequest incident-42", k)
	}
	if kr := keyringOf(t, "calm"); kr.Active != 1 {
		t.Errorf("a tenant not named was rotated to %d", kr.Active)
	}
	testenv.Eventually(t, timeout, func() error { return expectEvent("ondemand", "RotationCompleted") })

	// The request stays in the spec: it is carried out once, never again, whoever reconciles.
	settle(t, "ondemand")
	if kr := keyringOf(t, "urgent"); kr.Active != 2 {
		t.Errorf("the same request rotated again, to version %d", kr.Active)
	}
	// A new request value rotates every tenant once more.
	requestRotation(t, "ondemand", &twv1.KeyRotationRequest{Request: "incident-43"})
	testenv.Eventually(t, timeout, func() error {
		if a, b := keyringOf(t, "urgent").Active, keyringOf(t, "calm").Active; a != 3 || b != 2 {
			return fmt.Errorf("versions urgent %d calm %d, want 3 and 2", a, b)
		}
		return nil
	})
}

// readyPolicyWithTenants creates a policy (retaining 2 versions) and tenants under it, and waits
// for their keyrings and the policy's Ready.
func readyPolicyWithTenants(t *testing.T, policy string, tenants ...string) *twv1.KeyPolicy {
	t.Helper()
	createPolicy(t, policy, 2)
	for _, name := range tenants {
		createTenant(t, name, policy)
	}
	for _, name := range tenants {
		keyringOf(t, name)
	}
	return waitPolicyReady(t, policy, int32(len(tenants)))
}

func requestRotation(t *testing.T, policy string, rn *twv1.KeyRotationRequest) {
	t.Helper()
	kp := &twv1.KeyPolicy{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: policy}, kp); err != nil {
		t.Fatal(err)
	}
	kp.Spec.RotateNow = rn
	if err := k8s.Update(ctx, kp); err != nil {
		t.Fatal(err)
	}
}

// tenantReport reads a Tenant's status.keyring from the API server; empty when there is none.
func tenantReport(t *testing.T, tenant string) twv1.TenantKeyringStatus {
	t.Helper()
	tn := &twv1.Tenant{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: tenant}, tn); err != nil {
		t.Fatal(err)
	}
	if tn.Status.Keyring == nil {
		return twv1.TenantKeyringStatus{}
	}
	return *tn.Status.Keyring
}

// reconcileRetryingRefusedWrites reconciles one tenant with rec. A keyring write refused because
// the keyring changed since rec read it (the manager's reconciler wrote it first) is retried, as
// the manager's queue would; any other error fails the test.
func reconcileRetryingRefusedWrites(t *testing.T, rec *Reconciler, name string) ctrl.Result {
	t.Helper()
	var res ctrl.Result
	testenv.Eventually(t, timeout, func() error {
		var err error
		res, err = rec.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: name}})
		if err != nil && !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		return err
	})
	return res
}

func expectEvent(policy, reason string) error {
	evs := &corev1.EventList{}
	if err := k8s.List(ctx, evs); err != nil {
		return err
	}
	for _, e := range evs.Items {
		if e.InvolvedObject.Name == policy && e.Reason == reason {
			if strings.Contains(e.Message, "encryptionKey") {
				return fmt.Errorf("event mentions key material: %s", e.Message)
			}
			return nil
		}
	}
	return fmt.Errorf("no %s event for %s", reason, policy)
}

func TestDefaultPolicyCoversTenantsThatNameNone(t *testing.T) {
	createPolicy(t, "zz-default", 2, func(kp *twv1.KeyPolicy) { kp.Spec.Default = true })
	createTenant(t, "implicit", "")
	kr := keyringOf(t, "implicit")
	if kr.Active != 1 || kr.Algorithm != "AES-256-GCM" {
		t.Errorf("keyring %+v", kr.VersionNumbers())
	}
	waitPolicyReady(t, "zz-default", 1)
	if k := tenantReport(t, "implicit"); k.Policy != "zz-default" || k.ActiveVersion != 1 {
		t.Errorf("tenant report = %+v", k)
	}
}

func TestOnlyConsumerIntegrationsMayReadTheKeyring(t *testing.T) {
	applyTenantRoles(t)
	createPolicy(t, "consumers", 2, func(kp *twv1.KeyPolicy) {
		kp.Spec.Consumers = &metav1.LabelSelector{MatchLabels: map[string]string{"keys": "yes"}}
	})
	createTenant(t, "rbac", "consumers", twv1.Subject{Kind: twv1.SubjectGroup, Name: "oidc:rbac-admins"})
	keyringOf(t, "rbac")
	ns := "tenant-rbac"
	for name, lbl := range map[string]string{"reader": "yes", "other": "no"} {
		createConsumer(t, ns, name, map[string]string{"keys": lbl})
	}
	testenv.Eventually(t, timeout, func() error {
		rb := &rbacv1.RoleBinding{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: ReaderName}, rb); err != nil {
			return err
		}
		if len(rb.Subjects) != 1 || rb.Subjects[0].Name != "reader-sync" {
			return fmt.Errorf("keyring readers = %+v", rb.Subjects)
		}
		return nil
	})

	// Only the consumer's sync configuration points at the keyring.
	testenv.Eventually(t, timeout, func() error {
		for name, want := range map[string]bool{"reader": true, "other": false} {
			cm := &corev1.ConfigMap{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-sync-config"}, cm); err != nil {
				return err
			}
			if got := strings.Contains(cm.Data["sync.yaml"], "keyringFile:"); got != want {
				return fmt.Errorf("%s config names a keyring: %v, want %v", name, got, want)
			}
		}
		return nil
	})

	tests := map[string]struct {
		user   string
		groups []string
		allow  bool
	}{
		"consumer sync pods":         {user: "system:serviceaccount:" + ns + ":reader-sync", groups: []string{"system:serviceaccounts"}, allow: true},
		"non-consumer sync pods":     {user: "system:serviceaccount:" + ns + ":other-sync", groups: []string{"system:serviceaccounts"}},
		"tenant admins":              {user: "dr@rbac.example", groups: []string{"oidc:rbac-admins"}},
		"the tenant's sync identity": {user: "system:serviceaccount:" + ns + ":tenantwire-sync", groups: []string{"system:serviceaccounts"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: tc.user, Groups: tc.groups,
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: "get", Resource: "secrets", Name: keyring.SecretName},
			}}
			if err := k8s.Create(ctx, sar); err != nil {
				t.Fatal(err)
			}
			if sar.Status.Allowed != tc.allow {
				t.Errorf("get keyring allowed = %v, want %v (%s)", sar.Status.Allowed, tc.allow, sar.Status.Reason)
			}
		})
	}
	// The admins can still do their job: manage Integrations.
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: "dr@rbac.example", Groups: []string{"oidc:rbac-admins"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: "create", Group: "tenantwire.io", Resource: "integrations"},
	}}
	if err := k8s.Create(ctx, sar); err != nil || !sar.Status.Allowed {
		t.Errorf("tenant admins cannot create Integrations: %v %+v", err, sar.Status)
	}
}

// applyTenantRoles installs the shipped tenant admin and viewer ClusterRoles.
func applyTenantRoles(t *testing.T) {
	t.Helper()
	f, err := os.Open(filepath.Join(testenv.RepoRoot(), "config", "rbac", "tenant_roles.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	dec := yaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		role := &rbacv1.ClusterRole{}
		if err := dec.Decode(role); err != nil {
			break
		}
		if role.Name == "" {
			continue
		}
		_ = k8s.Delete(ctx, role)
		if err := k8s.Create(ctx, role); err != nil {
			t.Fatal(err)
		}
	}
}

func TestExternalKeysFollowTheVault(t *testing.T) {
	createPolicy(t, "vault-keys", 1, func(kp *twv1.KeyPolicy) {
		kp.Spec.Source = twv1.KeySource{Type: twv1.KeySourceExternal, External: &twv1.ExternalKeySource{
			StoreRef: twv1.KeyStoreRef{Name: "vault"}, RemoteKeyTemplate: "tenants/{tenant}/id-key"}}
	})
	createTenant(t, "ext", "vault-keys")
	ns := "tenant-ext"

	// The operator asks ESO for this tenant's own key path.
	es := &esv1.ExternalSecret{}
	testenv.Eventually(t, timeout, func() error { return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: KeySourceName}, es) })
	if es.Spec.Data[0].RemoteRef.Key != "tenants/ext/id-key" || es.Spec.Data[0].RemoteRef.Property != "encryptionKey" {
		t.Errorf("key source data = %+v", es.Spec.Data)
	}
	waitPolicyReason(t, "vault-keys", twv1.ReasonKeySourceUnavailable)

	// ESO syncs the vault value: it becomes version 1.
	src := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: KeySourceName, Labels: es.Spec.Target.Template.Metadata.Labels}}
	setKeys := func(enc, mac byte) {
		src.Data = map[string][]byte{
			"encryptionKey": []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{enc}, 32))),
			"hmacKey":       []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{mac}, 32))),
		}
		var err error
		if src.ResourceVersion == "" {
			err = k8s.Create(ctx, src)
		} else {
			err = k8s.Update(ctx, src)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	setKeys(1, 2)
	testenv.Eventually(t, timeout, func() error {
		if kr := keyringOf(t, "ext"); kr.Active != 1 || kr.ActiveVersion().EncryptionKey[0] != 1 {
			return fmt.Errorf("keyring active %d", kr.Active)
		}
		return nil
	})
	waitPolicyReady(t, "vault-keys", 1)

	// A vault-side change is a new version; retention 1 keeps the previous one, then drops it.
	for i, want := range []string{"[1 2]", "[2 3]"} {
		setKeys(byte(10+i), 20)
		testenv.Eventually(t, timeout, func() error {
			if kr := keyringOf(t, "ext"); fmt.Sprint(kr.VersionNumbers()) != want {
				return fmt.Errorf("versions %v, want %s", kr.VersionNumbers(), want)
			}
			return nil
		})
	}

	// Material that is not a 32-byte key is refused, and the keyring is left as it was.
	src.Data["hmacKey"] = []byte("not-a-key")
	if err := k8s.Update(ctx, src); err != nil {
		t.Fatal(err)
	}
	kp := waitPolicyReason(t, "vault-keys", twv1.ReasonKeySourceUnavailable)
	if c := conditions.Get(kp.Status.Conditions, twv1.ConditionReady); strings.Contains(c.Message, "not-a-key") {
		t.Errorf("condition reveals key source content: %s", c.Message)
	}
	if kr := keyringOf(t, "ext"); kr.Active != 3 {
		t.Errorf("bad material changed the keyring: active %d", kr.Active)
	}
}

func waitPolicyReason(t *testing.T, name, reason string) *twv1.KeyPolicy {
	t.Helper()
	return waitPolicyCondition(t, name, twv1.ConditionReady, reason)
}

func waitPolicyCondition(t *testing.T, name, typ, reason string) *twv1.KeyPolicy {
	t.Helper()
	kp := &twv1.KeyPolicy{}
	testenv.Eventually(t, timeout, func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Name: name}, kp); err != nil {
			return err
		}
		if c := conditions.Get(kp.Status.Conditions, typ); c == nil || c.Reason != reason {
			return fmt.Errorf("policy %s %s = %+v, want reason %s", name, typ, c, reason)
		}
		return nil
	})
	return kp
}
