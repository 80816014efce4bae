// Package faults plays the operator's rows of the fault matrix (docs/operations.md, "Fault
// matrix") on a real API server (envtest). Each row applies a fault to a running tenant whose
// mapping rows are sealed with its keyring; the operator, started and killed here as its process
// would be, recovers; and the row counts the mapping rows that no longer open under the keyring
// the cluster converged on. The runtime's rows (PostgreSQL down, a pod rolled) are in
// internal/syncrun, ESO down in controllers/integration, the installer's in test/manifests.
package faults

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/tenantwire/tenantwire/controllers/integration"
	"github.com/tenantwire/tenantwire/controllers/keypolicy"
	"github.com/tenantwire/tenantwire/controllers/tenant"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
	"github.com/tenantwire/tenantwire/internal/status"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

const timeout = 30 * time.Second

var (
	ctx = context.Background()
	env *testenv.Env
	// k8s is the cluster admin's client (group system:masters), which the admission policies
	// bind as they bind anyone.
	k8s client.Client
)

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
	if k8s, err = client.New(env.Config, client.Options{Scheme: twscheme.New()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := installAdmissionPolicy("tenant_namespace_deletion.yaml"); err != nil {
		fmt.Fprintln(os.Stderr, "installing the namespace deletion policy:", err)
		return 1
	}
	return m.Run()
}

// installAdmissionPolicy creates the objects of one config/admission file as the install does.
func installAdmissionPolicy(file string) error {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "admission", file))
	if err != nil {
		return err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if len(obj.Object) == 0 {
			continue
		}
		if err := k8s.Create(ctx, &obj); err != nil {
			return err
		}
	}
}

// operator is one process of the operator: its three controllers in a manager of their own,
// knowing nothing but what the cluster holds when it starts.
type operator struct {
	mgr  *testenv.Manager
	once sync.Once
}

// startOperator starts an operator; wrapKeyPolicy, when set, wraps the KeyPolicy controller's
// client (a test kills the process from there). The operator stops with the test.
func startOperator(t *testing.T, wrapKeyPolicy func(client.Client) client.Client) *operator {
	t.Helper()
	mgr, err := env.NewManager(twscheme.New())
	if err != nil {
		t.Fatal(err)
	}
	scheme := mgr.GetScheme()
	keyPolicyClient := mgr.GetClient()
	if wrapKeyPolicy != nil {
		keyPolicyClient = wrapKeyPolicy(keyPolicyClient)
	}
	tr := &tenant.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: scheme,
		Recorder: mgr.GetEventRecorderFor("tenantwire-" + tenant.ControllerName), Clock: clock.RealClock{}, DNS: tenant.DefaultDNSTarget,
		StatusCoalescer: status.NewCoalescer(clock.RealClock{}, status.DefaultTiming), Children: mgr.Children}
	ir := &integration.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: scheme, RESTMapper: mgr.GetRESTMapper(),
		Recorder: mgr.GetEventRecorderFor("tenantwire-" + integration.ControllerName), Clock: clock.RealClock{}, SyncImage: "tenantwire:test",
		StatusCoalescer: status.NewCoalescer(clock.RealClock{}, status.DefaultTiming), Children: mgr.Children}
	kr := &keypolicy.Reconciler{Client: keyPolicyClient, APIReader: mgr.GetAPIReader(), Scheme: scheme,
		Recorder: mgr.GetEventRecorderFor("tenantwire-" + keypolicy.ControllerName), Clock: clock.RealClock{}, Children: mgr.Children}
	// One process runs each controller once; the test runs several processes one after another.
	opts := controller.Options{SkipNameValidation: ptr.To(true)}
	for _, setup := range []func() error{
		func() error { return tr.SetupWithManager(mgr, opts) },
		func() error { return ir.SetupWithManager(mgr, opts) },
		func() error { return kr.SetupWithManager(mgr, opts) },
	} {
		if err := setup(); err != nil {
			t.Fatal(err)
		}
	}
	if err := mgr.Run(); err != nil {
		t.Fatal(err)
	}
	op := &operator{mgr: mgr}
	t.Cleanup(op.stop)
	return op
}

func (o *operator) stop() { o.once.Do(o.mgr.Stop) }
