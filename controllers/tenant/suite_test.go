package tenant

import (
	"fmt"
	"os"
	"testing"

	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// Shared by the envtest tests of this package: a real API server, a manager running the Tenant
// controller, and a direct (uncached) client for the test's own reads and writes.
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
	env, err := testenv.Start()
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
	writes = testenv.NewWriteCounter(mgr.GetClient())
	reconciler = &Reconciler{
		Client:    writes,
		APIReader: mgr.GetAPIReader(),
		Scheme:    scheme,
		Recorder:  mgr.GetEventRecorderFor("tenantwire-" + ControllerName),
		Clock:     clock.RealClock{},
		DNS:       DefaultDNSTarget,
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
