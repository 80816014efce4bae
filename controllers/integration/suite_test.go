package integration

import (
	"fmt"
	"os"
	"testing"

	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/tenantwire/tenantwire/controllers/tenant"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// Shared by the envtest tests of this package: a real API server with our CRDs and ESO's, a
// manager running the Tenant and Integration controllers, and a direct client. No ESO controller
// runs here: tests play its part by writing ExternalSecret status and the target Secrets.
var (
	k8s        client.Client
	reconciler *Reconciler
	writes     *testenv.WriteCounter
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	testenv.SetLogger()
	esoCRDs, err := testenv.ExternalSecretsCRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env, err := testenv.Start(esoCRDs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()

	scheme := twscheme.New()
	mgr, err := env.NewManager(scheme)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	k8s = mgr.Direct
	tr := &tenant.Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: scheme,
		Recorder: mgr.GetEventRecorderFor("tenantwire-tenant"), Clock: clock.RealClock{}, DNS: tenant.DefaultDNSTarget,
	}
	if err := tr.SetupWithManager(mgr, controller.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	writes = testenv.NewWriteCounter(mgr.GetClient())
	reconciler = &Reconciler{
		Client: writes, Scheme: scheme, RESTMapper: mgr.GetRESTMapper(),
		Recorder: mgr.GetEventRecorderFor("tenantwire-" + ControllerName), Clock: clock.RealClock{}, SyncImage: "tenantwire:test",
	}
	if err := reconciler.SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: 2}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := mgr.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer mgr.Stop()
	return m.Run()
}
