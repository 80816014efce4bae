package integration

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// assertNamespaceEmpty fails for any object of the kinds an Integration builds in namespace ns.
func assertNamespaceEmpty(t *testing.T, ns string) {
	t.Helper()
	for _, list := range []client.ObjectList{&esv1.ExternalSecretList{}, &appsv1.DeploymentList{}, &corev1.ConfigMapList{},
		&rbacv1.RoleList{}, &rbacv1.RoleBindingList{}, &corev1.ServiceAccountList{}, &networkingv1.NetworkPolicyList{}} {
		if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if n := meta.LenList(list); n != 0 {
			t.Errorf("%T in namespace %s: %d objects, want none", list, ns, n)
		}
	}
}

// foreignNamespace creates a namespace that carries a tenant's labels without being its namespace.
func foreignNamespace(t *testing.T, name, tenant string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name,
		Labels: map[string]string{labels.ManagedBy: labels.ManagedByValue, labels.Tenant: tenant}}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, ns) })
}

// assertRefusedReconcileWritesNothing reconciles a refused Integration again, as a resync or an
// operator restart would: it finds nothing to delete and no status to change, so it writes nothing.
func assertRefusedReconcileWritesNothing(t *testing.T, in *twv1.Integration) {
	t.Helper()
	time.Sleep(time.Second)
	before := writes.Writes()
	for range 2 {
		_, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(in)})
		if err != nil && !errors.Is(err, reconcile.TerminalError(nil)) {
			t.Fatal(err)
		}
	}
	var mine []string
	for _, w := range writes.Since(before) {
		if strings.Contains(w, " "+in.Namespace+"/") {
			mine = append(mine, w)
		}
	}
	if len(mine) != 0 {
		t.Errorf("reconciling a refused Integration again wrote %v, want nothing", mine)
	}
}

func waitRefused(t *testing.T, in *twv1.Integration, reason, mentions string) {
	t.Helper()
	got := waitCondition(t, in, twv1.ConditionReady, metav1.ConditionFalse, reason)
	ready := conditions.Get(got.Status.Conditions, twv1.ConditionReady)
	if !conditions.IsTrue(got.Status.Conditions, twv1.ConditionStalled) || !strings.Contains(ready.Message, mentions) {
		t.Errorf("want Stalled with a message naming %q, have %+v", mentions, got.Status.Conditions)
	}
}

// Whoever may label a namespace copies a tenant's labels onto their own and creates an
// Integration there: they must not get the tenant's credentials, nor anything else.
func TestIntegrationInANamespaceLabelledForAnotherTenantBuildsNothing(t *testing.T) {
	setupTenant(t, "victim", true)
	t.Run("a namespace of another name", func(t *testing.T) {
		foreignNamespace(t, "evil", "victim")
		in := newIntegration("evil", "steal")
		createIntegration(t, in)
		waitRefused(t, in, twv1.ReasonNamespaceNotOwned, "Namespace evil carries the labels of Tenant victim but is not its namespace tenant-victim")
		assertNamespaceEmpty(t, "evil")
		expectWarning(t, in, twv1.ReasonNamespaceNotOwned)
		assertRefusedReconcileWritesNothing(t, in)
	})
	t.Run("a tenant-<name> namespace someone else created", func(t *testing.T) {
		foreignNamespace(t, "tenant-squat", "victim")
		in := newIntegration("tenant-squat", "steal")
		createIntegration(t, in)
		waitRefused(t, in, twv1.ReasonNamespaceNotOwned, "Namespace tenant-squat was not created by tenantwire for Tenant squat")
		assertNamespaceEmpty(t, "tenant-squat")
	})
	t.Run("what was built there earlier is removed", func(t *testing.T) {
		foreignNamespace(t, "evil-earlier", "victim")
		in := newIntegration("evil-earlier", "steal")
		createIntegration(t, in)
		waitRefused(t, in, twv1.ReasonNamespaceNotOwned, "Namespace evil-earlier")
		// The children an earlier operator version would have built, owned by the Integration.
		in = getIntegration(t, in)
		for _, child := range allChildren(t, in) {
			child.SetNamespace(in.Namespace)
			if err := k8s.Create(ctx, child); err != nil {
				t.Fatalf("%T %s: %v", child, child.GetName(), err)
			}
		}
		testenv.Eventually(t, timeout, func() error {
			for _, child := range allChildren(t, in) {
				err := k8s.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: child.GetName()}, child)
				if !apierrors.IsNotFound(err) {
					return fmt.Errorf("%T %s is still there (err=%v)", child, child.GetName(), err)
				}
			}
			return nil
		})
		assertNamespaceEmpty(t, "evil-earlier")
		assertRefusedReconcileWritesNothing(t, in)
	})
}

// setupTenantOnPath creates a Tenant on the shared store "vault" with the given path prefix; its
// deletion purges at once.
func setupTenantOnPath(t *testing.T, name, prefix string) *twv1.Tenant {
	t.Helper()
	tn := &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{twv1.PurgeImmediatelyAnnotation: "true"}},
		Spec: twv1.TenantSpec{DisplayName: name,
			SecretStore: &twv1.TenantSecretStore{Kind: twv1.ClusterSecretStoreKind, Name: "vault", PathPrefix: prefix}}}
	if err := k8s.Create(ctx, tn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, tn) })
	testenv.Eventually(t, timeout, func() error { return k8s.Get(ctx, client.ObjectKey{Name: tn.NamespaceName()}, &corev1.Namespace{}) })
	return tn
}

func externalSecretsIn(t *testing.T, ns string) int {
	t.Helper()
	list := &esv1.ExternalSecretList{}
	if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return len(list.Items)
}

// A second Tenant on the same store with an equal or nested path prefix would read the first
// tenant's credentials: the later Tenant's Integrations get no ExternalSecret.
func TestLaterTenantOnAnOverlappingSecretPathGetsNoCredentials(t *testing.T) {
	first := setupTenantOnPath(t, "ovlfirst", "shared/ovl/")
	firstIn := newIntegration(first.NamespaceName(), "sync")
	createIntegration(t, firstIn)
	waitCondition(t, firstIn, twv1.IntegrationConditionCredentialsReady, metav1.ConditionFalse, twv1.ReasonCredentialsPending)

	later := setupTenantOnPath(t, "ovllater", "shared/ovl")
	nested := setupTenantOnPath(t, "ovlnested", "shared/ovl/deep/")
	lookalike := setupTenantOnPath(t, "ovllookalike", "shared/ovl-family/")
	laterIn, nestedIn, lookalikeIn := newIntegration(later.NamespaceName(), "sync"), newIntegration(nested.NamespaceName(), "sync"),
		newIntegration(lookalike.NamespaceName(), "sync")
	for _, in := range []*twv1.Integration{laterIn, nestedIn, lookalikeIn} {
		createIntegration(t, in)
	}

	waitRefused(t, laterIn, twv1.ReasonSecretStorePathOverlap, "Tenant ovlfirst,")
	waitRefused(t, nestedIn, twv1.ReasonSecretStorePathOverlap, "Tenant ovlfirst,")
	waitCondition(t, lookalikeIn, twv1.IntegrationConditionCredentialsReady, metav1.ConditionFalse, twv1.ReasonCredentialsPending)
	for _, ns := range []string{later.NamespaceName(), nested.NamespaceName()} {
		if n := externalSecretsIn(t, ns); n != 0 {
			t.Errorf("%d ExternalSecrets in %s, on a path another tenant claims", n, ns)
		}
	}
	if n := externalSecretsIn(t, lookalike.NamespaceName()); n != 2 {
		t.Errorf("%d ExternalSecrets in %s, want 2: a lookalike prefix is not an overlap", n, lookalike.NamespaceName())
	}
	assertRefusedReconcileWritesNothing(t, laterIn)

	// The earlier Tenant goes: the later one's Integration gets its credentials by itself; the
	// nested one is now inside the later one's path.
	if err := k8s.Delete(ctx, first); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, laterIn, twv1.IntegrationConditionCredentialsReady, metav1.ConditionFalse, twv1.ReasonCredentialsPending)
	if n := externalSecretsIn(t, later.NamespaceName()); n != 2 {
		t.Errorf("%d ExternalSecrets in %s after the earlier tenant went, want 2", n, later.NamespaceName())
	}
	waitRefused(t, nestedIn, twv1.ReasonSecretStorePathOverlap, "Tenant ovllater,")

	// An earlier Tenant moves onto a later one's path: the later one's credentials go.
	testenv.Eventually(t, timeout, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(later), later); err != nil {
			return err
		}
		later.Spec.SecretStore.PathPrefix = "shared/ovl-family"
		return k8s.Update(ctx, later)
	})
	waitRefused(t, lookalikeIn, twv1.ReasonSecretStorePathOverlap, "Tenant ovllater,")
	testenv.Eventually(t, timeout, func() error {
		if n := externalSecretsIn(t, lookalike.NamespaceName()); n != 0 {
			return fmt.Errorf("%d ExternalSecrets left in %s on a path an earlier tenant claims", n, lookalike.NamespaceName())
		}
		return nil
	})
}
