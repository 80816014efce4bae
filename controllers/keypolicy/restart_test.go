package keypolicy

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/controllers/tenant"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/keyring"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
	"github.com/tenantwire/tenantwire/internal/status"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// TestStatusIsComputedFromTheClusterAlone: a reconciler that remembers nothing (a restarted
// operator) computes a policy's status from the Tenants' reports at once, without waiting for its
// tenants' keyring reconciles, and finds nothing to write.
func TestStatusIsComputedFromTheClusterAlone(t *testing.T) {
	want := readyPolicyWithTenants(t, "amnesia", "amnesia-a", "amnesia-b")
	settle(t, "amnesia")
	if err := k8s.Get(ctx, client.ObjectKey{Name: "amnesia"}, want); err != nil {
		t.Fatal(err)
	}

	fresh := &Reconciler{Client: writes, APIReader: reconciler.APIReader, Scheme: reconciler.Scheme, Recorder: reconciler.Recorder, Clock: fakeClock,
		Children: reconciler.Children, Informers: reconciler.Informers}
	before := writes.Writes()
	res, err := fresh.reconcileStatus(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: "amnesia"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.RequeueAfter != 0 {
		t.Errorf("a restarted operator waits %s for tenants to report before it can compute the policy's status", res.RequeueAfter)
	}
	if w := writes.Since(before); len(w) != 0 {
		t.Errorf("a restarted operator's status reconcile wrote %v", w)
	}
	got := &twv1.KeyPolicy{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: "amnesia"}, got); err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion != want.ResourceVersion || !equality.Semantic.DeepEqual(got.Status, want.Status) {
		t.Errorf("status after restart\n%+v\nwant\n%+v", got.Status, want.Status)
	}
}

// TestRestartedManagerWritesNothing runs the Tenant and KeyPolicy controllers against an API
// server of their own, brings a policy to a status with every kind of content (current tenants, a
// lost keyring, a carried-out rotate-now request), stops the manager and starts a fresh one: the
// fresh one derives the same status from the cluster and writes nothing, not even an event.
func TestRestartedManagerWritesNothing(t *testing.T) {
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })

	first, _ := startKeyringManager(t, env)
	direct := first.Direct
	kp := &twv1.KeyPolicy{ObjectMeta: metav1.ObjectMeta{Name: "survives"}, Spec: twv1.KeyPolicySpec{
		Rotation:  twv1.KeyRotation{Period: metav1.Duration{Duration: 24 * time.Hour}, RetainVersions: 1},
		RotateNow: &twv1.KeyRotationRequest{Request: "before-restart", Tenants: []string{"again-a"}},
	}}
	if err := direct.Create(ctx, kp); err != nil {
		t.Fatal(err)
	}
	tenants := []string{"again-a", "again-b", "again-lost"}
	for _, name := range tenants {
		tn := &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: twv1.TenantSpec{DisplayName: name,
			KeyPolicyRef: &twv1.KeyPolicyReference{Name: "survives"}}}
		if err := direct.Create(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	keyringIn := func(tenant string) *corev1.Secret {
		s := &corev1.Secret{}
		if err := direct.Get(ctx, client.ObjectKey{Namespace: "tenant-" + tenant, Name: keyring.SecretName}, s); err != nil {
			return nil
		}
		return s
	}
	testenv.Eventually(t, timeout, func() error {
		for _, name := range tenants {
			if keyringIn(name) == nil {
				return fmt.Errorf("no keyring for %s yet", name)
			}
		}
		return nil
	})
	if err := direct.Delete(ctx, keyringIn("again-lost")); err != nil {
		t.Fatal(err)
	}
	converged := &twv1.KeyPolicy{}
	testenv.Eventually(t, timeout, func() error {
		if err := direct.Get(ctx, client.ObjectKey{Name: "survives"}, converged); err != nil {
			return err
		}
		st := converged.Status
		rn := st.RotateNow
		if st.ObservedGeneration != converged.Generation || st.TenantCount != 3 || st.CurrentCount != 2 || st.FailingCount != 1 ||
			rn == nil || rn.Rotated != 1 || rn.Pending != 0 || !conditions.IsTrue(st.Conditions, twv1.ConditionStalled) {
			return fmt.Errorf("policy status %+v", st)
		}
		return nil
	})
	// Let the last reports and events land before the manager stops.
	time.Sleep(2 * statusBatchDelay)
	first.Stop()

	snapshot := clusterSnapshot(t, direct, tenants)
	second, counters := startKeyringManager(t, env)
	// Long enough for every tenant's reconcile and the batched status reconciles that follow.
	time.Sleep(5 * statusBatchDelay)
	second.Stop()

	for name, c := range counters {
		if w := c.Since(0); len(w) != 0 {
			t.Errorf("the restarted %s controller wrote %v", name, w)
		}
	}
	after := clusterSnapshot(t, direct, tenants)
	for key, rv := range snapshot.resourceVersions {
		if after.resourceVersions[key] != rv {
			t.Errorf("%s changed across the restart: resourceVersion %s -> %s", key, rv, after.resourceVersions[key])
		}
	}
	if !equality.Semantic.DeepEqual(after.policy.Status, snapshot.policy.Status) {
		t.Errorf("policy status after restart\n%+v\nbefore\n%+v", after.policy.Status, snapshot.policy.Status)
	}
	if after.events != snapshot.events {
		t.Errorf("the restarted manager recorded %d events", after.events-snapshot.events)
	}
}

// startKeyringManager runs a manager with fresh Tenant and KeyPolicy reconcilers, whose writes
// are counted per controller.
func startKeyringManager(t *testing.T, env *testenv.Env) (*testenv.Manager, map[string]*testenv.WriteCounter) {
	t.Helper()
	mgr, err := env.NewManager(twscheme.New())
	if err != nil {
		t.Fatal(err)
	}
	scheme := mgr.GetScheme()
	counters := map[string]*testenv.WriteCounter{"tenant": testenv.NewWriteCounter(mgr.GetClient()), ControllerName: testenv.NewWriteCounter(mgr.GetClient())}
	tr := &tenant.Reconciler{Client: counters["tenant"], APIReader: mgr.GetAPIReader(), Scheme: scheme,
		Recorder: mgr.GetEventRecorderFor("tenantwire-tenant"), Clock: clock.RealClock{}, DNS: tenant.DefaultDNSTarget,
		StatusCoalescer: status.NewCoalescer(clock.RealClock{}, status.DefaultTiming), Children: mgr.Children}
	kr := &Reconciler{Client: counters[ControllerName], APIReader: mgr.GetAPIReader(), Scheme: scheme,
		Recorder: mgr.GetEventRecorderFor("tenantwire-" + ControllerName), Clock: clock.RealClock{}, Children: mgr.Children}
	if err := tr.SetupWithManager(mgr, controller.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := kr.SetupWithManager(mgr, controller.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := mgr.Run(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mgr.Stop)
	return mgr, counters
}

// snapshot is what a restart must leave as it was.
type snapshot struct {
	policy           *twv1.KeyPolicy
	resourceVersions map[string]string
	events           int
}

func clusterSnapshot(t *testing.T, c client.Client, tenants []string) snapshot {
	t.Helper()
	s := snapshot{policy: &twv1.KeyPolicy{}, resourceVersions: map[string]string{}}
	if err := c.Get(ctx, client.ObjectKey{Name: "survives"}, s.policy); err != nil {
		t.Fatal(err)
	}
	s.resourceVersions["KeyPolicy survives"] = s.policy.ResourceVersion
	for _, name := range tenants {
		tn := &twv1.Tenant{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, tn); err != nil {
			t.Fatal(err)
		}
		s.resourceVersions["Tenant "+name] = tn.ResourceVersion
		sec := &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "tenant-" + name, Name: keyring.SecretName}, sec); err == nil {
			s.resourceVersions["keyring of "+name] = sec.ResourceVersion
		}
	}
	events := &corev1.EventList{}
	if err := c.List(ctx, events); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		s.events += int(e.Count)
	}
	return s
}
