package admission

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	esv1alpha1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/manager"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// A policy that refused one of the operator's own writes would break the product for every tenant.
// So the manager as shipped (internal/manager, every controller, default flags), authenticated as
// its ServiceAccount with the RBAC of config/rbac, must bring the samples (a Tenant, the default
// KeyPolicy and an Integration that reads the keyring) to Ready with the policies in force. The
// test plays the External Secrets Operator and the Deployment controller, which envtest lacks.
func TestOperatorConvergesUnderThePolicies(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	installPolicies(t, ctx)
	for _, f := range []string{"config/rbac/tenant_roles.yaml", "config/dev/secretstore-fake.yaml",
		"config/samples/tenantwire_v1alpha1_keypolicy.yaml", "config/samples/tenantwire_v1alpha1_tenant.yaml"} {
		createFile(t, ctx, f)
	}

	// ctrl.GetConfig, which the manager calls, reads $KUBECONFIG.
	kubeconfig, err := clientcmd.Load(env.KubeConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range kubeconfig.AuthInfos {
		auth.Impersonate = operatorUser
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kubeconfig, path); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", path)
	var opts manager.Options
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	opts.BindFlags(fs)
	// The sample Integration runs without approval here: the policies that guard approvals are
	// exercised in test/approval.
	if err := fs.Parse([]string{"--metrics-bind-address=0", "--health-probe-bind-address=0", "--require-approval=false"}); err != nil {
		t.Fatal(err)
	}
	mgr, err := manager.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("manager: %v", err)
		}
	}()

	const ns = "tenant-acme-family-practice"
	testenv.Eventually(t, time.Minute, func() error {
		return admin.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})
	})
	createFile(t, ctx, "config/samples/tenantwire_v1alpha1_integration.yaml")

	// The External Secrets Operator: every ExternalSecret the operator made is synced.
	testenv.Eventually(t, time.Minute, func() error {
		var list esv1.ExternalSecretList
		if err := admin.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(list.Items) < 2 {
			return fmt.Errorf("%d ExternalSecrets, want the Integration's two", len(list.Items))
		}
		for i := range list.Items {
			if err := syncExternalSecret(ctx, &list.Items[i]); err != nil {
				return err
			}
		}
		return nil
	})
	// The Deployment controller: the sync Deployment is rolled out.
	testenv.Eventually(t, time.Minute, func() error {
		d := &appsv1.Deployment{}
		if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "cerbo-to-quickbooks-sync"}, d); err != nil {
			return err
		}
		n := ptr.Deref(d.Spec.Replicas, 1)
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"}}}
		return admin.Status().Update(ctx, d)
	})

	ready := map[string]client.Object{
		"Tenant acme-family-practice":     &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme-family-practice"}},
		"KeyPolicy standard":              &twv1.KeyPolicy{ObjectMeta: metav1.ObjectMeta{Name: "standard"}},
		"Integration cerbo-to-quickbooks": &twv1.Integration{ObjectMeta: metav1.ObjectMeta{Name: "cerbo-to-quickbooks", Namespace: ns}},
	}
	for name, o := range ready {
		testenv.Eventually(t, time.Minute, func() error {
			if err := admin.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
				return err
			}
			var conds []metav1.Condition
			switch o := o.(type) {
			case *twv1.Tenant:
				conds = o.Status.Conditions
			case *twv1.KeyPolicy:
				conds = o.Status.Conditions
			case *twv1.Integration:
				conds = o.Status.Conditions
			}
			if c := apimeta.FindStatusCondition(conds, twv1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
				return fmt.Errorf("%s is not Ready: %+v", name, c)
			}
			return nil
		})
	}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: keyring.SecretName}, &corev1.Secret{}); err != nil {
		t.Errorf("the operator did not write the keyring: %v", err)
	}
	checkTokenWriter(t, ctx, ns, "cerbo-to-quickbooks")

	// The purge, under the namespace deletion guard: the operator destroys the keyring, labels
	// the namespace purged and deletes it (envtest runs no namespace controller: it stays
	// Terminating).
	tenant := &twv1.Tenant{}
	if err := admin.Get(ctx, client.ObjectKey{Name: "acme-family-practice"}, tenant); err != nil {
		t.Fatal(err)
	}
	tenant.Annotations = map[string]string{twv1.PurgeImmediatelyAnnotation: "true"}
	tenant.Spec.State = twv1.TenantOffboarding
	if err := admin.Update(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, func() error {
		n := &corev1.Namespace{}
		if err := admin.Get(ctx, client.ObjectKey{Name: ns}, n); err != nil {
			return err
		}
		if n.DeletionTimestamp.IsZero() {
			return fmt.Errorf("namespace %s is not deleted; labels %v", ns, n.Labels)
		}
		return nil
	})
	testenv.Eventually(t, time.Minute, func() error {
		if err := admin.Get(ctx, client.ObjectKeyFromObject(tenant), tenant); err != nil {
			return err
		}
		if c := apimeta.FindStatusCondition(tenant.Status.Conditions, twv1.TenantConditionOffboarding); c == nil || c.Reason != twv1.ReasonPurged {
			return fmt.Errorf("the tenant does not report its purge: %+v", c)
		}
		return nil
	})
}

// syncExternalSecret does what the External Secrets Operator would: reports the ExternalSecret
// synced and writes its target Secret.
func syncExternalSecret(ctx context.Context, es *esv1.ExternalSecret) error {
	es.Status.Conditions = []esv1.ExternalSecretStatusCondition{{Type: esv1.ExternalSecretReady, Status: corev1.ConditionTrue,
		Reason: esv1.ConditionReasonSecretSynced, Message: "secret synced", LastTransitionTime: metav1.Now()}}
	if err := admin.Status().Update(ctx, es); err != nil {
		return err
	}
	name := es.Spec.Target.Name
	if name == "" {
		name = es.Name
	}
	var labels map[string]string
	if tmpl := es.Spec.Target.Template; tmpl != nil {
		labels = tmpl.Metadata.Labels
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: es.Namespace, Name: name, Labels: labels},
		Data: map[string][]byte{"token": []byte("synced")}}
	return client.IgnoreAlreadyExists(admin.Create(ctx, secret))
}

// createFile creates the objects of a manifest in the repository as the cluster administrator.
func createFile(t *testing.T, ctx context.Context, rel string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), rel))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeAll(data)
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatalf("%s: creating %s: %v", rel, o.GetName(), err)
		}
	}
}

// checkTokenWriter checks the write-back channel the operator built, under the policies and with
// the RBAC it ships, for an Integration whose destination (QuickBooks) rotates refresh tokens: the
// rotated-token Secret, empty; the token writer's Role, exactly patch on that Secret; its binding;
// the PushSecret, admitted; and the sync pods running as the token writer with a projected token.
// Then it plays a compromised sync pod, whose only API credential is the token writer's token:
// the API server's authorizer lets it patch that Secret and nothing else.
func checkTokenWriter(t *testing.T, ctx context.Context, ns, integration string) {
	t.Helper()
	secretName, writer := integration+"-rotated-token", integration+"-token-writer"
	secret := &corev1.Secret{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: secretName}, secret); err != nil {
		t.Fatalf("the rotated-token Secret: %v", err)
	}
	if len(secret.Data) != 0 {
		t.Errorf("the operator put %d keys into the rotated-token Secret", len(secret.Data))
	}
	role := &rbacv1.Role{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: writer}, role); err != nil {
		t.Fatalf("the token writer's Role: %v", err)
	}
	want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"patch"}, ResourceNames: []string{secretName}}}
	if !reflect.DeepEqual(role.Rules, want) {
		t.Errorf("token writer rules = %+v, want %+v", role.Rules, want)
	}
	binding := &rbacv1.RoleBinding{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: writer}, binding); err != nil {
		t.Fatalf("the token writer's RoleBinding: %v", err)
	}
	if len(binding.Subjects) != 1 || binding.Subjects[0].Kind != rbacv1.ServiceAccountKind || binding.Subjects[0].Name != writer ||
		binding.RoleRef.Name != writer {
		t.Errorf("token writer binding = %+v", binding)
	}
	ps := &esv1alpha1.PushSecret{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: secretName}, ps); err != nil {
		t.Fatalf("the PushSecret: %v", err)
	}
	if ps.Spec.Selector.Secret == nil || ps.Spec.Selector.Secret.Name != secretName || len(ps.Spec.Data) != 1 ||
		ps.Spec.Data[0].Match.RemoteRef.Property != "refresh_token" {
		t.Errorf("PushSecret spec = %+v", ps.Spec)
	}
	d := &appsv1.Deployment{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: integration + "-sync"}, d); err != nil {
		t.Fatal(err)
	}
	if pod := d.Spec.Template.Spec; pod.ServiceAccountName != writer || ptr.Deref(pod.AutomountServiceAccountToken, true) {
		t.Errorf("sync pods run as %q with automount %v, want %s without", pod.ServiceAccountName, pod.AutomountServiceAccountToken, writer)
	}

	user := "system:serviceaccount:" + ns + ":" + writer
	ask := func(verb, resource, subresource, name string) (bool, error) {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Resource: resource, Subresource: subresource, Name: name}}}
		err := admin.Create(ctx, sar)
		return sar.Status.Allowed, err
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		if ok, err := ask("patch", "secrets", "", secretName); err != nil || !ok {
			return fmt.Errorf("the token writer may not patch %s (err %v)", secretName, err)
		}
		return nil
	})
	denied := []struct{ verb, resource, subresource, name string }{
		{"get", "secrets", "", secretName}, {"list", "secrets", "", ""}, {"watch", "secrets", "", secretName},
		{"update", "secrets", "", secretName}, {"delete", "secrets", "", secretName}, {"create", "secrets", "", ""},
		{"get", "secrets", "", keyring.SecretName}, {"patch", "secrets", "", keyring.SecretName},
		{"get", "secrets", "", integration + "-destination-credentials"}, {"patch", "secrets", "", integration + "-destination-credentials"},
		{"patch", "secrets", "", "other-rotated-token"},
		{"create", "serviceaccounts", "token", writer}, {"create", "serviceaccounts", "token", integration + "-sync"},
		{"list", "pods", "", ""}, {"create", "pods", "", ""}, {"get", "configmaps", "", integration + "-sync-config"},
		{"patch", "pushsecrets", "", secretName},
	}
	for _, a := range denied {
		ok, err := ask(a.verb, a.resource, a.subresource, a.name)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			t.Errorf("a compromised sync pod (the token writer) may %s %s %s", a.verb, strings.TrimSuffix(a.resource+"/"+a.subresource, "/"), a.name)
		}
	}
}
