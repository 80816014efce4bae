// Package security proves tenantwire's isolation from the outside: what the operator created is
// read back from a real API server and judged by machinery that is not ours, a NetworkPolicy
// engine for the network and the API server's own RBAC authorizer for access.
package security

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/tenantwire/tenantwire/internal/manager"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
	"github.com/tenantwire/tenantwire/internal/status"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// The manager's identity as config/rbac installs it.
const (
	managerNamespace      = "tenantwire-system"
	managerServiceAccount = "tenantwire-manager"
)

var (
	ctx = context.Background()
	// env is the API server; admin is a cluster administrator's client (system:masters), used only
	// to play the platform team and the parts of the cluster envtest does not run.
	env   *testenv.Env
	admin client.Client
)

func TestMain(m *testing.M) { os.Exit(runSuite(m)) }

// runSuite starts the API server, installs the operator's RBAC from config/rbac, and runs the
// production manager (internal/manager, every controller) authenticated as the manager's
// ServiceAccount, so that everything it creates passes the API server's RBAC checks for that
// identity exactly as in a cluster.
func runSuite(m *testing.M) int {
	testenv.SetLogger()
	var err error
	if env, err = testenv.StartWithExternalSecrets(); err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if admin, err = client.New(env.Config, client.Options{Scheme: twscheme.New()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := installOperatorRBAC(ctx, admin); err != nil {
		fmt.Fprintln(os.Stderr, "installing config/rbac:", err)
		return 1
	}
	stop, err := startManagerAsItsServiceAccount()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the manager:", err)
		return 1
	}
	defer stop()
	return m.Run()
}

// authenticate provisions the subject as a user of the API server, with a client certificate
// envtest issues: no impersonation, so the API server sees that user alone.
func authenticate(s subject) (*envtest.AuthenticatedUser, error) {
	return env.AddUser(envtest.User{Name: s.user, Groups: s.groups}, env.Config)
}

func startManagerAsItsServiceAccount() (func(), error) {
	user, err := authenticate(serviceAccount(managerNamespace, managerServiceAccount))
	if err != nil {
		return nil, err
	}
	// manager.New reads its configuration the way the binary does, from the kubeconfig.
	dir, err := os.MkdirTemp("", "tenantwire-security-")
	if err != nil {
		return nil, err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		return nil, err
	}
	if err := os.Setenv("KUBECONFIG", path); err != nil {
		return nil, err
	}
	mgr, err := manager.New(manager.Options{
		MetricsAddr: "0", ProbeAddr: "0", QPS: 50, Burst: 100,
		TenantConcurrency: 2, IntegrationConcurrency: 2, KeyPolicyConcurrency: 2,
		SyncImage: "tenantwire:test", DNSNamespace: "kube-system", DNSPodSelector: "k8s-app=kube-dns",
		ScraperNamespace: scraperNS, ScraperPodSelector: scraperPodSelector,
		OperatorNamespace: managerNamespace, OperatorPodSelector: "app.kubernetes.io/name=tenantwire,app.kubernetes.io/component=manager",
		StatusTiming: status.DefaultTiming,
		// The fixture's Integrations run without an approval; approval is proven in test/approval.
		RequireApproval: false,
	})
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(runCtx) }()
	if !mgr.GetCache().WaitForCacheSync(runCtx) {
		cancel()
		return nil, errors.New("the manager's cache did not sync")
	}
	return func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped with:", err)
		}
		_ = os.RemoveAll(dir)
	}, nil
}
