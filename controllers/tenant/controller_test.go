package tenant

import (
	"context"
	"fmt"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/metrics"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

const timeout = 20 * time.Second

func newTenant(name string, admins ...twv1.Subject) *twv1.Tenant {
	return &twv1.Tenant{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: twv1.TenantSpec{
			DisplayName: "Practice " + name,
			Admins:      admins,
			Viewers:     []twv1.Subject{{Kind: twv1.SubjectGroup, Name: "oidc:" + name + "-staff"}},
			Approvers:   []twv1.Subject{{Kind: twv1.SubjectGroup, Name: "oidc:" + name + "-approvers"}},
			Networking:  twv1.TenantNetworking{AllowIngressFrom: []twv1.NamespaceIngress{{Namespace: "monitoring", Ports: []twv1.NetworkPort{{Port: 8080}}}}},
		},
	}
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %s: %v", obj.GetName(), err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), obj) })
}

// waitReady waits for Ready=True at the current generation and returns the Tenant.
func waitReady(t *testing.T, name string) *twv1.Tenant {
	t.Helper()
	tn := &twv1.Tenant{}
	testenv.Eventually(t, timeout, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, tn); err != nil {
			return err
		}
		c := conditions.Get(tn.Status.Conditions, twv1.ConditionReady)
		if c == nil || c.Status != metav1.ConditionTrue || tn.Status.ObservedGeneration != tn.Generation {
			return fmt.Errorf("tenant %s not Ready at generation %d: %+v", name, tn.Generation, tn.Status)
		}
		return nil
	})
	return tn
}

func get(t *testing.T, key client.ObjectKey, obj client.Object) error {
	t.Helper()
	return k8s.Get(context.Background(), key, obj)
}

func TestTenantCreatesIsolatedNamespace(t *testing.T) {
	create(t, newTenant("alpha", twv1.Subject{Kind: twv1.SubjectGroup, Name: "oidc:alpha-admins"}))
	tn := waitReady(t, "alpha")

	if tn.Status.Namespace != "tenant-alpha" {
		t.Errorf("status.namespace = %q", tn.Status.Namespace)
	}
	for _, typ := range []string{twv1.TenantConditionNamespaceReady, twv1.TenantConditionIsolationReady} {
		if !conditions.IsTrue(tn.Status.Conditions, typ) {
			t.Errorf("%s not True: %+v", typ, tn.Status.Conditions)
		}
	}
	ns := &corev1.Namespace{}
	if err := get(t, client.ObjectKey{Name: "tenant-alpha"}, ns); err != nil {
		t.Fatal(err)
	}
	// No owner reference: a cascading delete of the Tenant must not take the namespace (and its
	// data) with it; only the purge at the end of the grace period does.
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" || ns.Labels["tenantwire.io/tenant"] != "alpha" || len(ns.OwnerReferences) != 0 {
		t.Errorf("namespace labels %v, owners %v", ns.Labels, ns.OwnerReferences)
	}

	key := func(name string) client.ObjectKey { return client.ObjectKey{Namespace: "tenant-alpha", Name: name} }
	for _, name := range []string{DefaultDenyPolicyName, DNSEgressPolicyName, IngressAllowancePolicyName} {
		if err := get(t, key(name), &networkingv1.NetworkPolicy{}); err != nil {
			t.Errorf("network policy %s: %v", name, err)
		}
	}
	if err := get(t, key(QuotaName), &corev1.ResourceQuota{}); err != nil {
		t.Error(err)
	}
	if err := get(t, key(LimitRangeName), &corev1.LimitRange{}); err != nil {
		t.Error(err)
	}
	sa := &corev1.ServiceAccount{}
	if err := get(t, key(SyncServiceAccountName), sa); err != nil || sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Errorf("sync service account %+v: %v", sa, err)
	}
	rb := &rbacv1.RoleBinding{}
	if err := get(t, key(AdminsBindingName), rb); err != nil {
		t.Fatal(err)
	}
	if rb.RoleRef.Name != AdminClusterRole || len(rb.Subjects) != 1 || rb.Subjects[0].Name != "oidc:alpha-admins" {
		t.Errorf("admins binding = %+v", rb)
	}
	if err := get(t, key(ViewersBindingName), rb); err != nil || rb.Subjects[0].Name != "oidc:alpha-staff" {
		t.Errorf("viewers binding = %+v: %v", rb, err)
	}
	if err := get(t, key(ApproversBindingName), rb); err != nil || rb.RoleRef.Name != ApproverClusterRole || rb.Subjects[0].Name != "oidc:alpha-approvers" {
		t.Errorf("approvers binding = %+v: %v", rb, err)
	}

	// A tenant that comes up records no Ready event (its conditions show it); only a recovery
	// from a Warning does.
	testenv.Eventually(t, timeout, func() error {
		tn := &twv1.Tenant{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: "alpha"}, tn); err != nil {
			return err
		}
		if !conditions.IsTrue(tn.Status.Conditions, twv1.ConditionReady) {
			return fmt.Errorf("tenant alpha is not Ready yet")
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	if err := expectEvent("alpha", twv1.ConditionReady); err == nil {
		t.Error("a Ready event was recorded for a tenant that came up without a Warning")
	}
}

func expectEvent(tenant, reason string) error {
	evs := &corev1.EventList{}
	if err := k8s.List(context.Background(), evs, client.InNamespace("default")); err != nil {
		return err
	}
	for _, e := range evs.Items {
		if e.InvolvedObject.Kind == "Tenant" && e.InvolvedObject.Name == tenant && e.Reason == reason {
			return nil
		}
	}
	return fmt.Errorf("no %s event for tenant %s among %d events", reason, tenant, len(evs.Items))
}

func TestTenantAdminsUpdateIsApplied(t *testing.T) {
	create(t, newTenant("beta",
		twv1.Subject{Kind: twv1.SubjectUser, Name: "ann@beta.example"},
		twv1.Subject{Kind: twv1.SubjectUser, Name: "bob@beta.example"}))
	tn := waitReady(t, "beta")

	// Remove one admin and add a group: the binding must drop bob, not just add the group.
	tn.Spec.Admins = []twv1.Subject{{Kind: twv1.SubjectUser, Name: "ann@beta.example"}, {Kind: twv1.SubjectGroup, Name: "oidc:beta-admins"}}
	if err := k8s.Update(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	waitReady(t, "beta")
	testenv.Eventually(t, timeout, func() error {
		rb := &rbacv1.RoleBinding{}
		if err := get(t, client.ObjectKey{Namespace: "tenant-beta", Name: AdminsBindingName}, rb); err != nil {
			return err
		}
		var names []string
		for _, s := range rb.Subjects {
			names = append(names, s.Kind+":"+s.Name)
		}
		if got := strings.Join(names, ","); got != "User:ann@beta.example,Group:oidc:beta-admins" {
			return fmt.Errorf("admins binding subjects = %s", got)
		}
		return nil
	})
}

func TestTenantRepairsDrift(t *testing.T) {
	create(t, newTenant("gamma"))
	waitReady(t, "gamma")
	ctx := context.Background()
	ns := "tenant-gamma"

	// A deleted child comes back.
	if err := k8s.Delete(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: DefaultDenyPolicyName}}); err != nil {
		t.Fatal(err)
	}
	// A field we own, edited by hand, is set back.
	q := &corev1.ResourceQuota{}
	if err := get(t, client.ObjectKey{Namespace: ns, Name: QuotaName}, q); err != nil {
		t.Fatal(err)
	}
	q.Spec.Hard["pods"] = resource.MustParse("500")
	if err := k8s.Update(ctx, q); err != nil {
		t.Fatal(err)
	}
	// Weakening Pod Security on the namespace is undone.
	nsObj := &corev1.Namespace{}
	if err := get(t, client.ObjectKey{Name: ns}, nsObj); err != nil {
		t.Fatal(err)
	}
	nsObj.Labels["pod-security.kubernetes.io/enforce"] = "privileged"
	if err := k8s.Update(ctx, nsObj); err != nil {
		t.Fatal(err)
	}

	// A rule removed by hand (a removal leaves no trace in managedFields) comes back.
	dns := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: DNSEgressPolicyName}}
	if err := k8s.Patch(ctx, dns, client.RawPatch(types.JSONPatchType, []byte(`[{"op":"remove","path":"/spec/egress"}]`))); err != nil {
		t.Fatal(err)
	}

	testenv.Eventually(t, timeout, func() error {
		if err := get(t, client.ObjectKey{Namespace: ns, Name: DefaultDenyPolicyName}, &networkingv1.NetworkPolicy{}); err != nil {
			return fmt.Errorf("default-deny policy not restored: %w", err)
		}
		if err := get(t, client.ObjectKey{Namespace: ns, Name: DNSEgressPolicyName}, dns); err != nil {
			return err
		}
		if len(dns.Spec.Egress) == 0 {
			return fmt.Errorf("DNS egress rules not restored")
		}
		if err := get(t, client.ObjectKey{Namespace: ns, Name: QuotaName}, q); err != nil {
			return err
		}
		if got := q.Spec.Hard["pods"]; got.String() != "20" {
			return fmt.Errorf("quota pods = %s, want 20", got.String())
		}
		if err := get(t, client.ObjectKey{Name: ns}, nsObj); err != nil {
			return err
		}
		if got := nsObj.Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
			return fmt.Errorf("pod security enforce = %s, want restricted", got)
		}
		return nil
	})
}

func TestTenantConvergedReconcileMakesNoWrites(t *testing.T) {
	create(t, newTenant("delta", twv1.Subject{Kind: twv1.SubjectUser, Name: "dee@delta.example"}))
	waitReady(t, "delta")
	if writes.Writes() == 0 {
		t.Fatal("the write counter saw no writes while a tenant was created: it is not wired in")
	}
	// Let the watch events of our own last writes settle, then reconcile twice by hand.
	time.Sleep(time.Second)
	before := writes.Writes()
	for range 2 {
		if _, err := reconciler.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Name: "delta"}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := writes.Writes() - before; got != 0 {
		t.Errorf("converged reconciles made %d writes, want 0", got)
	}

	// A restarted operator has verified nothing yet: it reads the children whole, and still writes
	// nothing.
	restarted := (&Reconciler{Client: writes, APIReader: reconciler.APIReader, Scheme: reconciler.Scheme,
		Recorder: reconciler.Recorder, Clock: reconciler.Clock, DNS: reconciler.DNS, Children: reconciler.Children}).complete()
	before = writes.Writes()
	if _, err := restarted.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Name: "delta"}}); err != nil {
		t.Fatal(err)
	}
	if got := writes.Writes() - before; got != 0 {
		t.Errorf("a restarted reconciler made %d writes on a converged tenant, want 0", got)
	}
}

func TestTenantRefusesForeignNamespace(t *testing.T) {
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "tenant-epsilon", Labels: map[string]string{"owner": "someone-else"}}})
	create(t, newTenant("epsilon"))

	testenv.Eventually(t, timeout, func() error {
		tn := &twv1.Tenant{}
		if err := get(t, client.ObjectKey{Name: "epsilon"}, tn); err != nil {
			return err
		}
		ready := conditions.Get(tn.Status.Conditions, twv1.ConditionReady)
		if ready == nil || ready.Reason != twv1.ReasonNamespaceConflict || !conditions.IsTrue(tn.Status.Conditions, twv1.ConditionStalled) {
			return fmt.Errorf("want Ready=False NamespaceConflict and Stalled, got %+v", tn.Status.Conditions)
		}
		return nil
	})
	ns := &corev1.Namespace{}
	if err := get(t, client.ObjectKey{Name: "tenant-epsilon"}, ns); err != nil {
		t.Fatal(err)
	}
	if len(ns.OwnerReferences) != 0 || ns.Labels["pod-security.kubernetes.io/enforce"] != "" {
		t.Errorf("foreign namespace was taken over: %+v", ns.ObjectMeta)
	}
}

func TestTenantValidation(t *testing.T) {
	tests := map[string]struct {
		tenant  *twv1.Tenant
		wantMsg string
	}{
		"name too long for a namespace": {
			tenant:  newTenant(strings.Repeat("a", 57)),
			wantMsg: "Tenant name must be at most 56 characters",
		},
		"name with a dot": {
			tenant:  newTenant("acme.clinic"),
			wantMsg: "Tenant name must be a DNS label",
		},
		"unknown subject kind": {
			tenant:  newTenant("zeta", twv1.Subject{Kind: "ServiceAccount", Name: "x"}),
			wantMsg: `spec.admins[0].kind: Unsupported value: "ServiceAccount"`,
		},
		"secret store path escapes": {
			tenant: func() *twv1.Tenant {
				tn := newTenant("eta")
				tn.Spec.SecretStore = &twv1.TenantSecretStore{Name: "vault", PathPrefix: "tenants/../other"}
				return tn
			}(),
			wantMsg: "pathPrefix must not contain '..'",
		},
		"missing display name": {
			tenant: func() *twv1.Tenant {
				tn := newTenant("theta")
				tn.Spec.DisplayName = ""
				return tn
			}(),
			wantMsg: "spec.displayName",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := k8s.Create(context.Background(), tc.tenant)
			if err == nil {
				_ = k8s.Delete(context.Background(), tc.tenant)
				t.Fatal("the API server accepted an invalid Tenant")
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error = %v, want Invalid mentioning %q", err, tc.wantMsg)
			}
		})
	}
	// The longest valid name is accepted.
	create(t, newTenant(strings.Repeat("a", 56)))
}

func TestDeletingAnActiveTenantOffboardsItInsteadOfDestroyingData(t *testing.T) {
	tn := newTenant("iota")
	if err := k8s.Create(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	tn = waitReady(t, "iota")
	if len(tn.Finalizers) != 1 || tn.Finalizers[0] != Finalizer {
		t.Errorf("finalizers = %v, want [%s]", tn.Finalizers, Finalizer)
	}
	if err := k8s.Delete(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	off := waitOffboarding(t, "iota", twv1.ReasonGracePeriod)
	if off.Status.PurgeAfter == nil || off.Status.PurgeAfter.Sub(off.Status.OffboardingSince.Time) != twv1.DefaultGracePeriod {
		t.Errorf("purgeAfter = %v, offboardingSince = %v, want 60 days apart", off.Status.PurgeAfter, off.Status.OffboardingSince)
	}
	ns := &corev1.Namespace{}
	if err := get(t, client.ObjectKey{Name: "tenant-iota"}, ns); err != nil || !ns.DeletionTimestamp.IsZero() {
		t.Fatalf("the namespace of a deleted tenant must survive the grace period: %v %v", err, ns.DeletionTimestamp)
	}

	// An explicit, documented request purges at once; the Tenant then goes.
	off.Annotations = map[string]string{twv1.PurgeImmediatelyAnnotation: "true"}
	if err := k8s.Update(context.Background(), off); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, timeout, func() error {
		if err := get(t, client.ObjectKey{Name: "iota"}, &twv1.Tenant{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("tenant still present (err=%v)", err)
		}
		err := get(t, client.ObjectKey{Name: "tenant-iota"}, ns)
		// envtest runs no namespace controller, so a deleted namespace stays Terminating.
		if apierrors.IsNotFound(err) || (err == nil && !ns.DeletionTimestamp.IsZero()) {
			return nil
		}
		return fmt.Errorf("namespace not being deleted: %v", err)
	})
}

func waitOffboarding(t *testing.T, name, reason string) *twv1.Tenant {
	t.Helper()
	tn := &twv1.Tenant{}
	testenv.Eventually(t, timeout, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, tn); err != nil {
			return err
		}
		c := conditions.Get(tn.Status.Conditions, twv1.TenantConditionOffboarding)
		if c == nil || c.Reason != reason || tn.Status.State != twv1.TenantOffboarding {
			return fmt.Errorf("tenant %s: want Offboarding/%s, have state %s %+v", name, reason, tn.Status.State, tn.Status.Conditions)
		}
		return nil
	})
	return tn
}

func TestOffboardingPurgesKeysFirstThenTheNamespaceAfterTheGracePeriod(t *testing.T) {
	ctx := context.Background()
	// Its keys come from the vault, so a copy of them outlives the purge, for the vendor to destroy.
	create(t, &twv1.KeyPolicy{ObjectMeta: metav1.ObjectMeta{Name: "kappa-vault-keys"}, Spec: twv1.KeyPolicySpec{
		Source: twv1.KeySource{Type: twv1.KeySourceExternal, External: &twv1.ExternalKeySource{
			StoreRef: twv1.KeyStoreRef{Kind: twv1.ClusterSecretStoreKind, Name: "keys"}, RemoteKeyTemplate: "tenants/{tenant}/id-key"}},
		Rotation: twv1.KeyRotation{Period: metav1.Duration{Duration: 2160 * time.Hour}}}})
	tn := newTenant("kappa")
	tn.Spec.Retention.GracePeriod = &metav1.Duration{Duration: 48 * time.Hour}
	tn.Spec.KeyPolicyRef = &twv1.KeyPolicyReference{Name: "kappa-vault-keys"}
	create(t, tn)
	waitReady(t, "kappa")
	kr := testKeyring(t, 2)
	data, err := kr.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	keyringSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-kappa", Name: "tenantwire-keyring",
		Labels: map[string]string{"app.kubernetes.io/managed-by": "tenantwire"}}, Data: map[string][]byte{"keyring.json": data}}
	if err := k8s.Create(ctx, keyringSecret); err != nil {
		t.Fatal(err)
	}
	purgesBefore := testutil.ToFloat64(metrics.TenantPurges.WithLabelValues(metrics.PurgeManualStepsRemain))

	cur := &twv1.Tenant{}
	if err := get(t, client.ObjectKey{Name: "kappa"}, cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.State = twv1.TenantOffboarding
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	off := waitOffboarding(t, "kappa", twv1.ReasonGracePeriod)
	if !conditions.IsTrue(off.Status.Conditions, twv1.ConditionReady) {
		t.Errorf("a tenant in its grace period keeps its isolation and stays Ready: %+v", off.Status.Conditions)
	}
	purgeAfter := off.Status.PurgeAfter.Time
	// The calls below read the manager's cache, which may still hold the Tenant from before its
	// offboarding status was written; from there a reconcile would start a new grace period.
	testenv.Eventually(t, timeout, func() error {
		cached := &twv1.Tenant{}
		if err := writes.Get(ctx, client.ObjectKey{Name: "kappa"}, cached); err != nil {
			return err
		}
		if cached.Status.PurgeAfter == nil || !cached.Status.PurgeAfter.Time.Equal(purgeAfter) {
			return fmt.Errorf("cache has purgeAfter %v, want %v", cached.Status.PurgeAfter, purgeAfter)
		}
		return nil
	})

	// One second before the grace period ends nothing is deleted.
	fakeClock.SetTime(purgeAfter.Add(-time.Second))
	res, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: "kappa"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter < time.Second || res.RequeueAfter > 5*time.Second {
		t.Errorf("RequeueAfter = %s, want the time left until the purge", res.RequeueAfter)
	}
	if err := get(t, client.ObjectKey{Namespace: "tenant-kappa", Name: "tenantwire-keyring"}, &corev1.Secret{}); err != nil {
		t.Fatalf("keyring deleted before the grace period ended: %v", err)
	}

	// Once it has: the inventory is recorded, then the keyring goes, then the namespace, and a
	// final status.
	fakeClock.SetTime(purgeAfter)
	before := writes.Writes()
	testenv.Eventually(t, timeout, func() error {
		if _, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: "kappa"}}); err != nil {
			return err
		}
		cur := &twv1.Tenant{}
		if err := get(t, client.ObjectKey{Name: "kappa"}, cur); err != nil {
			return err
		}
		if cur.Status.PurgedAt == nil {
			return fmt.Errorf("not purged yet: %+v", cur.Status.Purge)
		}
		return nil
	})
	var deletes []string
	for _, w := range writes.Since(before) {
		// Labelling the namespace purged wakes the manager's own reconcile of kappa, which may
		// run alongside this one and send the namespace's delete too.
		if strings.HasPrefix(w, "delete ") && (len(deletes) == 0 || deletes[len(deletes)-1] != w) {
			deletes = append(deletes, w)
		}
	}
	if len(deletes) != 2 || !strings.Contains(deletes[0], "tenantwire-keyring") || !strings.Contains(deletes[1], "Namespace") {
		t.Errorf("purge deletes = %v, want the keyring Secret, then the Namespace", deletes)
	}
	// envtest runs no namespace controller, so the deleted namespace stays, Terminating, with the
	// label the admission policy asks for before a tenant namespace may be deleted.
	ns := &corev1.Namespace{}
	if err := get(t, client.ObjectKey{Name: "tenant-kappa"}, ns); err != nil {
		t.Fatal(err)
	}
	if ns.Labels[labels.Purged] != "true" || ns.DeletionTimestamp.IsZero() {
		t.Errorf("namespace after the purge: labels %v, deletionTimestamp %v; want labelled %s=true and deleted", ns.Labels, ns.DeletionTimestamp, labels.Purged)
	}
	purged := waitOffboarding(t, "kappa", twv1.ReasonPurged)
	if purged.Status.PurgedAt == nil || !conditions.IsTrue(purged.Status.Conditions, twv1.ConditionReady) {
		t.Errorf("final status = %+v", purged.Status)
	}
	testenv.Eventually(t, timeout, func() error { return expectEvent("kappa", twv1.ReasonPurged) })
	// The crypto-shredding is recorded on its own, before the namespace goes.
	testenv.Eventually(t, timeout, func() error { return expectEvent("kappa", "KeysDestroyed") })

	// The record: what was destroyed, by whom and when, and what the vendor must still destroy.
	rec := purged.Status.Purge
	if rec == nil || rec.CompletedAt == nil || rec.Controller != "tenantwire-tenant" || rec.Namespace != "tenant-kappa" {
		t.Fatalf("purge record = %+v", rec)
	}
	if len(rec.KeyringVersions) != 2 || rec.KeyringVersions[0].Fingerprint != kr.Versions[0].Fingerprint() ||
		rec.KeyringVersions[1].Fingerprint != kr.Versions[1].Fingerprint() {
		t.Errorf("destroyed versions = %+v, want both versions of the keyring with their fingerprints", rec.KeyringVersions)
	}
	wantLeft := []twv1.PurgeRemainder{{Kind: twv1.PurgeRemainderVaultKey, Location: "ClusterSecretStore/keys: tenants/kappa/id-key"}}
	if !equalJSON(t, rec.Remaining, wantLeft) {
		t.Errorf("remaining = %+v, want %+v", rec.Remaining, wantLeft)
	}
	if c := conditions.Get(purged.Status.Conditions, twv1.TenantConditionManualPurgeRequired); c == nil || c.Reason != twv1.ReasonExternalCopiesRemain ||
		!strings.Contains(c.Message, "tenants/kappa/id-key") {
		t.Errorf("ManualPurgeRequired = %+v", c)
	}
	testenv.Eventually(t, timeout, func() error { return expectEvent("kappa", twv1.TenantConditionManualPurgeRequired) })
	if got := testutil.ToFloat64(metrics.TenantPurges.WithLabelValues(metrics.PurgeManualStepsRemain)); got < purgesBefore+1 {
		t.Errorf("tenantwire_tenant_purges_total{result=manual_steps_remain} = %v, want at least %v", got, purgesBefore+1)
	}
	fakeClock.SetTime(time.Now())
}
