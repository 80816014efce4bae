package manifests

import (
	"context"
	"fmt"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/yaml"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/controllers/integration"
	"github.com/tenantwire/tenantwire/controllers/tenant"
	"github.com/tenantwire/tenantwire/internal/conditions"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// managerUser is the operator's ServiceAccount as the API server names it.
var managerUser = "system:serviceaccount:" + kustomizeNamespace + ":" + managerServiceAccount

// Every child carries a controller owner reference with blockOwnerDeletion, and a cluster running
// the OwnerReferencesPermissionEnforcement admission plugin (OpenShift does, as do many hardened
// clusters) lets only a user who may update the owner's finalizers set that. Here the Tenant and
// Integration controllers run as the operator's ServiceAccount, impersonated, holding nothing but
// the generated ClusterRole config/rbac/role.yaml, and must build the sample Tenant's and
// Integration's children.
func TestManagerRoleSuffices(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kube-apiserver")
	}
	esoCRDs, err := testenv.ExternalSecretsCRDs()
	if err != nil {
		t.Fatal(err)
	}
	env, err := testenv.StartWith(testenv.Options{CRDDirs: []string{esoCRDs}, AdmissionPlugins: []string{"OwnerReferencesPermissionEnforcement"}})
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := twscheme.New()
	mgr, err := env.NewManagerAs(scheme, managerUser)
	if err != nil {
		t.Fatal(err)
	}
	admin := mgr.Direct
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The operator's RBAC as shipped: its ClusterRole bound to its ServiceAccount, and the tenant
	// roles it binds.
	role := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(readFile(t, "config/rbac/role.yaml"), role); err != nil {
		t.Fatal(err)
	}
	objs := []client.Object{role, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: managerClusterRole},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: kustomizeNamespace, Name: managerServiceAccount}},
	}}
	for _, o := range decodeAll(t, readFile(t, "config/rbac/tenant_roles.yaml")) {
		objs = append(objs, o)
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatalf("installing %s: %v", o.GetName(), err)
		}
	}

	tr := &tenant.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: scheme,
		Recorder: mgr.GetEventRecorderFor("tenantwire-tenant"), Clock: clock.RealClock{}, DNS: tenant.DefaultDNSTarget, Children: mgr.Children}
	if err := tr.SetupWithManager(mgr, controller.Options{}); err != nil {
		t.Fatal(err)
	}
	ir := &integration.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: scheme, RESTMapper: mgr.GetRESTMapper(),
		Recorder: mgr.GetEventRecorderFor("tenantwire-integration"), Clock: clock.RealClock{}, SyncImage: "tenantwire:test", Children: mgr.Children}
	if err := ir.SetupWithManager(mgr, controller.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := mgr.Run(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mgr.Stop)

	tn := &twv1.Tenant{}
	if err := yaml.UnmarshalStrict(readFile(t, "config/samples/tenantwire_v1alpha1_tenant.yaml"), tn); err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, tn); err != nil {
		t.Fatal(err)
	}
	ns := tn.NamespaceName()
	tenantChildren := map[string]client.Object{
		tenant.SyncServiceAccountName: &corev1.ServiceAccount{},
		tenant.AdminsBindingName:      &rbacv1.RoleBinding{},
		tenant.DefaultDenyPolicyName:  &networkingv1.NetworkPolicy{},
	}
	waitForChildren(t, admin, ns, tenantChildren, func() string { return readyOf(ctx, admin, tn) })

	in := &twv1.Integration{}
	if err := yaml.UnmarshalStrict(readFile(t, "config/samples/tenantwire_v1alpha1_integration.yaml"), in); err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, in); err != nil {
		t.Fatal(err)
	}
	integrationChildren := map[string]client.Object{
		in.Name + "-source-credentials": &esv1.ExternalSecret{},
		in.Name + "-sync":               &corev1.ServiceAccount{},
		in.Name + "-credentials-reader": &rbacv1.RoleBinding{},
		in.Name + "-egress":             &networkingv1.NetworkPolicy{},
		in.Name + "-sync-config":        &corev1.ConfigMap{},
	}
	waitForChildren(t, admin, ns, integrationChildren, func() string { return readyOf(ctx, admin, in) })
}

// waitForChildren waits until every named child exists; on timeout it reports the owner's Ready
// condition, which carries the API server's refusal.
func waitForChildren(t *testing.T, c client.Client, ns string, children map[string]client.Object, owner func() string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() error {
		for name, obj := range children {
			if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
				return fmt.Errorf("%T %s/%s: %v; owner %s", obj, ns, name, err, owner())
			}
		}
		return nil
	})
}

func readyOf(ctx context.Context, c client.Client, obj client.Object) string {
	if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return err.Error()
	}
	var conds []metav1.Condition
	switch o := obj.(type) {
	case *twv1.Tenant:
		conds = o.Status.Conditions
	case *twv1.Integration:
		conds = o.Status.Conditions
	}
	if r := conditions.Get(conds, twv1.ConditionReady); r != nil {
		return fmt.Sprintf("Ready=%s %s: %s", r.Status, r.Reason, r.Message)
	}
	return "no Ready condition yet"
}
