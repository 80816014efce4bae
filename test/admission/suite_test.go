// Package admission plays the attacker against the admission policies in config/admission, on a
// real kube-apiserver (envtest). The attacker, mallory, holds the rules of the built-in admin role
// (a superset of edit) in a tenant namespace, aggregated here as the controller-manager would.
// Every attack must succeed while the policies are absent, and be denied with the policy's message
// once they are installed.
package admission

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/labels"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

const (
	tenantNS   = "tenant-acme"
	operatorNS = "tenantwire-system"
	// operatorUser is the manager's ServiceAccount in the kustomize install.
	operatorUser = "system:serviceaccount:" + operatorNS + ":tenantwire-manager"
	mallory      = "mallory"
	// The kube-controller-manager controllers that create pods and ReplicaSets, each with its own
	// ServiceAccount (--use-service-account-credentials); envtest's API server bootstraps their
	// system:controller:* roles.
	replicaSetController = "system:serviceaccount:kube-system:replicaset-controller"
	jobController        = "system:serviceaccount:kube-system:job-controller"
	deploymentController = "system:serviceaccount:kube-system:deployment-controller"
	// garbageCollector deletes the children of a deleted Integration (owner references).
	garbageCollector = "system:serviceaccount:kube-system:generic-garbage-collector"
	// serviceAccountController creates the default ServiceAccount of every namespace.
	serviceAccountController = "system:serviceaccount:kube-system:service-account-controller"
	// node is a kubelet, which requests tokens for the pods bound to it.
	node = "system:node:node-1"

	// Objects of the tenant namespace as the operator would have created them.
	credentialSecret = "cerbo-to-quickbooks-source"
	syncSA           = "cerbo-to-quickbooks-sync"
	tenantSyncSA     = "tenantwire-sync"
	keyringReader    = "tenantwire-keyring-reader"
	syncDeployment   = "cerbo-to-quickbooks-sync"
	syncPod          = "cerbo-to-quickbooks-sync-0"
	syncConfig       = "cerbo-to-quickbooks-sync-config"
	// tokenWriter is the Integration's token writer, the one identity its sync pods carry.
	tokenWriter = "system:serviceaccount:" + tenantNS + ":cerbo-to-quickbooks-token-writer"
	// rotatedTokenSecret is where the Integration's token writer keeps its rotated refresh token.
	rotatedTokenSecret = "cerbo-to-quickbooks-rotated-token"
	// pathPrefix is the tenant's vault prefix, as the Tenant controller records it on the namespace.
	pathPrefix = "tenants/acme"
)

var (
	env   *testenv.Env
	admin client.Client
	// clients by identity: a controller-runtime client and a clientset for connect requests.
	clients = map[string]identity{}
)

type identity struct {
	c  client.Client
	cs kubernetes.Interface
}

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	testenv.SetLogger()
	var err error
	if env, err = testenv.StartWithExternalSecrets(); err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if err := setup(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "setting up the tenant namespace:", err)
		return 1
	}
	return m.Run()
}

func setup(ctx context.Context) error {
	var err error
	if admin, err = client.New(env.Config, client.Options{Scheme: twscheme.New()}); err != nil {
		return err
	}
	for _, user := range []string{mallory, practiceAdmin, operatorUser, replicaSetController, jobController, deploymentController, garbageCollector, serviceAccountController, node, tokenWriter} {
		cfg := rest.CopyConfig(env.Config)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
		if user == node {
			cfg.Impersonate.Groups = []string{"system:nodes", "system:authenticated"}
		}
		c, err := client.New(cfg, client.Options{Scheme: twscheme.New()})
		if err != nil {
			return err
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		clients[user] = identity{c: c, cs: cs}
	}
	adminCS, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		return err
	}
	clients[clusterAdmin] = identity{c: admin, cs: adminCS}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNS}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenantNS,
			Annotations: map[string]string{labels.SecretPathPrefixAnnotation: pathPrefix}}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: rotatedTokenSecret, Namespace: tenantNS},
			Data: map[string][]byte{"destination.refresh_token": []byte("written-by-the-token-writer")}},
		keyringSecret(),
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: syncConfig, Namespace: tenantNS,
			Labels: map[string]string{labels.ManagedBy: labels.ManagedByValue}},
			Data: map[string]string{"sync.yaml": "source: {allowedHosts: [acme.md-hq.com]}"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: credentialSecret, Namespace: tenantNS},
			Data: map[string][]byte{"apiKey": []byte("not-a-real-key")}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: syncSA, Namespace: tenantNS}, AutomountServiceAccountToken: ptr.To(false)},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: tenantSyncSA, Namespace: tenantNS}, AutomountServiceAccountToken: ptr.To(false)},
		// The token writer's Role as the operator builds it: patch on its one Secret.
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "cerbo-to-quickbooks-token-writer", Namespace: tenantNS}, Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{rotatedTokenSecret}, Verbs: []string{"patch"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "cerbo-to-quickbooks-token-writer", Namespace: tenantNS},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "cerbo-to-quickbooks-token-writer"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "cerbo-to-quickbooks-token-writer", Namespace: tenantNS}}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: keyringReader, Namespace: tenantNS}, Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{keyring.SecretName}, Verbs: []string{"get"}}}},
		syncWorkload(),
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: syncPod, Namespace: tenantNS}, Spec: stealingPodSpec()},
	}
	// envtest authorizes with RBAC alone; the node authorizer would grant kubelets this.
	objs = append(objs, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "nodes"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:node"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:nodes"}}})
	rbac, err := operatorRBAC()
	if err != nil {
		return err
	}
	objs = append(objs, rbac...)
	objs = append(objs, namespaceOwnerRBAC()...)
	malloryRole, err := malloryRules(ctx)
	if err != nil {
		return err
	}
	objs = append(objs, malloryRole,
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: mallory, Namespace: tenantNS},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: malloryRole.GetName()},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: mallory}}})
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

// malloryRules is the built-in admin role as the controller-manager's aggregation controller
// builds it (the rules of every ClusterRole labelled aggregate-to-admin, -edit or -view, which the
// API server bootstraps), plus what the External Secrets Operator's chart aggregates into edit and
// admin and what `kubectl debug` needs, as a Role in the tenant namespace.
func malloryRules(ctx context.Context) (*rbacv1.Role, error) {
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "tenant-namespace-admin", Namespace: tenantNS}}
	for _, label := range []string{"aggregate-to-admin", "aggregate-to-edit", "aggregate-to-view"} {
		var crs rbacv1.ClusterRoleList
		if err := admin.List(ctx, &crs, client.MatchingLabels{"rbac.authorization.k8s.io/" + label: "true"}); err != nil {
			return nil, err
		}
		if len(crs.Items) == 0 {
			return nil, fmt.Errorf("no ClusterRole labelled %s: the API server has not bootstrapped its roles", label)
		}
		for _, cr := range crs.Items {
			role.Rules = append(role.Rules, cr.Rules...)
		}
	}
	role.Rules = append(role.Rules, rbacv1.PolicyRule{
		APIGroups: []string{"external-secrets.io"},
		Resources: []string{"externalsecrets", "secretstores", "clustersecretstores", "pushsecrets"},
		Verbs:     []string{"get", "list", "watch", "create", "delete", "deletecollection", "patch", "update"},
	}, rbacv1.PolicyRule{
		// admin and edit leave out ephemeral containers; platforms that let tenants run
		// `kubectl debug` grant this.
		APIGroups: []string{""}, Resources: []string{"pods/ephemeralcontainers"}, Verbs: []string{"patch", "update"},
	})
	return role, nil
}

// operatorRBAC is the manager's ClusterRole and its binding as config/rbac ships them.
func operatorRBAC() ([]client.Object, error) {
	var objs []client.Object
	for _, f := range []string{"role.yaml", "role_binding.yaml"} {
		data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", f))
		if err != nil {
			return nil, err
		}
		docs, err := decodeAll(data)
		if err != nil {
			return nil, fmt.Errorf("config/rbac/%s: %w", f, err)
		}
		objs = append(objs, docs...)
	}
	return objs, nil
}

// policies are the objects of config/admission, in the order its kustomization lists them.
func policies() ([]client.Object, error) {
	dir := filepath.Join(testenv.RepoRoot(), "config", "admission")
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil, err
	}
	var objs []client.Object
	for _, f := range k.Resources {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		docs, err := decodeAll(data)
		if err != nil {
			return nil, fmt.Errorf("config/admission/%s: %w", f, err)
		}
		objs = append(objs, docs...)
	}
	if len(objs) == 0 {
		return nil, errors.New("config/admission holds no objects")
	}
	return objs, nil
}

func decodeAll(data []byte) ([]client.Object, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []client.Object
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(m) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
}

// keyringSecret is the tenant's keyring as the operator keeps it (its content does not matter here).
func keyringSecret() *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: keyring.SecretName, Namespace: tenantNS},
		Data: map[string][]byte{keyring.DataKey: []byte(`{"active":1}`)}}
}
