package integration

import (
	"os"
	"testing"

	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/tenantwire/tenantwire/controllers/tenant"
	"github.com/tenantwire/tenantwire/internal/hostpolicy"
	"github.com/tenantwire/tenantwire/internal/status"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// Shared by the envtest tests of this package: a real API server with our CRDs and ESO's, a
// manager running the Tenant and Integration controllers, and a direct client. No ESO controller
// runs here: tests play its part by writing ExternalSecret status and the target Secrets.
var (
	k8s        client.Client
	reconciler *Reconciler
	writes     *testenv.WriteCounter
	cycles     = &fakeCycles{}
)

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, testenv.SuiteOptions{ExternalSecrets: true}, func(mgr *testenv.Manager) error {
		k8s = mgr.Direct
		tr := &tenant.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(),
			Recorder: mgr.GetEventRecorderFor("tenantwire-tenant"), Clock: clock.RealClock{}, DNS: tenant.DefaultDNSTarget,
			StatusCoalescer: status.NewCoalescer(clock.RealClock{}, status.DefaultTiming), Children: mgr.Children}
		if err := tr.SetupWithManager(mgr, controller.Options{}); err != nil {
			return err
		}
		writes = testenv.NewWriteCounter(mgr.GetClient())
		// The vendors' documented hosts, one webhook receiver, and the mapping store of withPostgres.
		hosts, err := hostpolicy.New(hostpolicy.Config{PostgresHosts: []string{"db.acme.internal"},
			Hosts: map[string][]string{"webhook": {"hooks.example.com"}}})
		if err != nil {
			return err
		}
		// A platform with a business associate agreement for Zoho CRM only.
		baa, err := ParseBAACoverage([]string{"zoho"})
		if err != nil {
			return err
		}
		reconciler = &Reconciler{Client: writes, APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(), RESTMapper: mgr.GetRESTMapper(),
			Recorder: mgr.GetEventRecorderFor("tenantwire-" + ControllerName), Clock: clock.RealClock{}, SyncImage: "tenantwire:test", HostPolicy: &hosts, BAACovered: baa,
			StatusCoalescer: status.NewCoalescer(clock.RealClock{}, status.DefaultTiming), Children: mgr.Children,
			Cycles: cycles, Operator: testOperator}
		return reconciler.SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: 2})
	}))
}
