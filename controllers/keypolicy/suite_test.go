package keypolicy

import (
	"os"
	"sync"
	"testing"
	"time"

	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/tenantwire/tenantwire/controllers/integration"
	"github.com/tenantwire/tenantwire/controllers/tenant"
	"github.com/tenantwire/tenantwire/internal/status"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// Shared by the envtest tests of this package: the Tenant, Integration and KeyPolicy controllers
// against a real API server (RBAC authorizer included), with the KeyPolicy controller on a fake
// clock so that tests decide when rotations are due.
var (
	k8s client.Client
	// watcher watches objects directly, to count every write to them whoever makes it.
	watcher    client.WithWatch
	reconciler *Reconciler
	writes     *testenv.WriteCounter
	fakeClock  *clocktesting.FakeClock
	// heldOff holds the tenants the manager's reconciler stays away from (holdManagerOff).
	heldOff sync.Map
)

// holdManagerOff keeps the manager's KeyPolicy reconciler away from a tenant until the test ends,
// so that what the test's reconciler writes for it is all that is written: otherwise the manager's,
// woken by those writes, may write the same report first and leave the test's with nothing to do.
// It gives a reconcile of the tenant that the manager started before a moment to end.
func holdManagerOff(t *testing.T, tenant string) {
	t.Helper()
	heldOff.Store(tenant, true)
	t.Cleanup(func() { heldOff.Delete(tenant) })
	time.Sleep(500 * time.Millisecond)
}

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, testenv.SuiteOptions{ExternalSecrets: true}, func(mgr *testenv.Manager) error {
		k8s = mgr.Direct
		scheme := mgr.GetScheme()
		var err error
		if watcher, err = client.NewWithWatch(mgr.GetConfig(), client.Options{Scheme: scheme}); err != nil {
			return err
		}
		tr := &tenant.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: scheme,
			Recorder: mgr.GetEventRecorderFor("tenantwire-tenant"), Clock: clock.RealClock{}, DNS: tenant.DefaultDNSTarget,
			StatusCoalescer: status.NewCoalescer(clock.RealClock{}, status.DefaultTiming), Children: mgr.Children}
		ir := &integration.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: scheme, RESTMapper: mgr.GetRESTMapper(),
			Recorder: mgr.GetEventRecorderFor("tenantwire-integration"), Clock: clock.RealClock{}, SyncImage: "tenantwire:test",
			StatusCoalescer: status.NewCoalescer(clock.RealClock{}, status.DefaultTiming), Children: mgr.Children}
		fakeClock = clocktesting.NewFakeClock(t0)
		// The manager runs one KeyPolicy reconciler; tests call a second one directly, with its own
		// write counter, so that what a single reconcile writes is measured apart from the manager.
		managed := &Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: scheme,
			Recorder: mgr.GetEventRecorderFor("tenantwire-" + ControllerName), Clock: fakeClock, Children: mgr.Children,
			holdOff: func(tenant string) bool { _, held := heldOff.Load(tenant); return held }}
		writes = testenv.NewWriteCounter(mgr.GetClient())
		reconciler = (&Reconciler{Client: writes, APIReader: mgr.GetAPIReader(), Scheme: scheme, Recorder: managed.Recorder, Clock: fakeClock,
			Children: mgr.Children, Informers: mgr.GetCache()}).complete()
		for _, setup := range []func() error{
			func() error { return tr.SetupWithManager(mgr, controller.Options{}) },
			func() error { return ir.SetupWithManager(mgr, controller.Options{}) },
			func() error { return managed.SetupWithManager(mgr, controller.Options{}) },
		} {
			if err := setup(); err != nil {
				return err
			}
		}
		return nil
	}))
}
