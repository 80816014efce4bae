package tenant

import (
	"os"
	"testing"
	"time"

	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/tenantwire/tenantwire/internal/status"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// Shared by the envtest tests of this package: a real API server, a manager running the Tenant
// controller (through a write counter), and a direct client for the test's own reads and writes.
var (
	k8s        client.Client
	reconciler *Reconciler
	writes     *testenv.WriteCounter
	// fakeClock drives lifecycle decisions (grace periods) in tests; it starts at the real time.
	fakeClock *clocktesting.FakeClock
)

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, testenv.SuiteOptions{}, func(mgr *testenv.Manager) error {
		k8s = mgr.Direct
		writes = testenv.NewWriteCounter(mgr.GetClient())
		fakeClock = clocktesting.NewFakeClock(time.Now())
		reconciler = &Reconciler{
			Client:    writes,
			APIReader: mgr.GetAPIReader(),
			Scheme:    mgr.GetScheme(),
			Recorder:  mgr.GetEventRecorderFor("tenantwire-" + ControllerName),
			Clock:     fakeClock,
			DNS:       DefaultDNSTarget,
			Children:  mgr.Children,
			// Lifecycle decisions follow fakeClock; status coalescing keeps real time.
			StatusCoalescer: status.NewCoalescer(clock.RealClock{}, status.DefaultTiming),
		}
		return reconciler.SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: 2})
	}))
}
