// Package approval plays the attacker against practice approval on a real kube-apiserver
// (envtest): the Tenant controller binds the shipped tenant roles (config/rbac/tenant_roles.yaml)
// to a Tenant's admins, viewers and approvers, and the admission policies of
// config/admission/integration_approvals.yaml are installed, as in production. Who may approve is
// asked of the API server's RBAC authorizer with SubjectAccessReviews and then tried for real, with
// each user impersonated.
package approval

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/controllers/tenant"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
	"github.com/tenantwire/tenantwire/internal/status"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

const (
	tenantName = "acme"
	tenantNS   = "tenant-acme"
	// The Tenant's people: alice approves by name, dave through the group approverGroup; ann and bob
	// are admins, vic a viewer; eddie holds Kubernetes' built-in edit role in the tenant namespace,
	// adele its admin role.
	alice         = "alice"
	dave          = "dave"
	approverGroup = "oidc:acme-approvers"
	ann           = "ann"
	bob           = "bob"
	vic           = "vic"
	eddie         = "eddie"
	adele         = "adele"
)

var (
	admin   client.Client
	restCfg *rest.Config
	// clients by user, each impersonating that user (dave with his group).
	clients = map[string]client.Client{}
)

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, testenv.SuiteOptions{}, func(mgr *testenv.Manager) error {
		admin, restCfg = mgr.Direct, mgr.GetConfig()
		tr := &tenant.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(),
			Recorder: mgr.GetEventRecorderFor("tenantwire-tenant"), Clock: clock.RealClock{}, DNS: tenant.DefaultDNSTarget,
			StatusCoalescer: status.NewCoalescer(clock.RealClock{}, status.DefaultTiming), Children: mgr.Children}
		if err := tr.SetupWithManager(mgr, controller.Options{}); err != nil {
			return err
		}
		for _, user := range []string{alice, dave, ann, bob, vic, eddie, adele} {
			cfg := rest.CopyConfig(restCfg)
			cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groupsOf(user)}
			c, err := client.New(cfg, client.Options{Scheme: twscheme.New()})
			if err != nil {
				return err
			}
			clients[user] = c
		}
		return nil
	}))
}

// groupsOf is what the authenticator would say of each user.
func groupsOf(user string) []string {
	if user == dave {
		return []string{approverGroup, "system:authenticated"}
	}
	return []string{"system:authenticated"}
}

// sampleTenant names every kind of person once.
func sampleTenant() *twv1.Tenant {
	return &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: tenantName}, Spec: twv1.TenantSpec{DisplayName: "Acme",
		Admins:    []twv1.Subject{{Kind: twv1.SubjectUser, Name: ann}, {Kind: twv1.SubjectUser, Name: bob}},
		Viewers:   []twv1.Subject{{Kind: twv1.SubjectUser, Name: vic}},
		Approvers: []twv1.Subject{{Kind: twv1.SubjectUser, Name: alice}, {Kind: twv1.SubjectGroup, Name: approverGroup}}}}
}

// builtInRole is one of Kubernetes' built-in roles as the controller-manager's aggregation
// controller builds it from the API server's bootstrap roles (edit: the roles labelled
// aggregate-to-edit and aggregate-to-view; admin: those and aggregate-to-admin), as a Role in the
// tenant namespace.
func builtInRole(ctx context.Context, name string, aggregates ...string) (*rbacv1.Role, error) {
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: tenantNS}}
	for _, label := range aggregates {
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
	return role, nil
}

// manifests decodes the objects of a file of the repository.
func manifests(rel string) ([]client.Object, error) {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), rel))
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []client.Object
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		if len(m) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
}
