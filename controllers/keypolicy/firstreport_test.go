package keypolicy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/watch"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

func TestHeldBack(t *testing.T) {
	kp := samplePolicy()
	kp.Generation = 3
	settling := func(request string) *twv1.TenantKeyringStatus {
		return &twv1.TenantKeyringStatus{Policy: kp.Name, PolicyGeneration: 3, ActiveVersion: 1, RotationRequest: request,
			Reason: twv1.ReasonConsumersSettling, Message: "settling"}
	}
	onGeneration := func(gen int64) *twv1.TenantKeyringStatus {
		return &twv1.TenantKeyringStatus{Policy: kp.Name, PolicyGeneration: gen, ActiveVersion: 1}
	}
	tests := map[string]struct {
		prev, next *twv1.TenantKeyringStatus
		want       bool
	}{
		"first report, consumers settling":                 {next: settling(""), want: true},
		"first report, current":                            {next: onGeneration(3)},
		"first report, another problem":                    {next: &twv1.TenantKeyringStatus{Policy: kp.Name, PolicyGeneration: 3, Reason: twv1.ReasonApplyFailed}},
		"first report carries out a rotation request":      {next: settling("r1")},
		"report on an older generation, settling":          {prev: onGeneration(2), next: settling(""), want: true},
		"report of another policy, settling":               {prev: &twv1.TenantKeyringStatus{Policy: "other", PolicyGeneration: 3}, next: settling(""), want: true},
		"a report on this generation: settling is written": {prev: onGeneration(3), next: settling("")},
		"older report, settling with a new request done":   {prev: onGeneration(2), next: settling("r1")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tn := sampleTenant()
			tn.Status.Keyring = tc.prev
			if got := heldBack(kp, tn, tc.next); got != tc.want {
				t.Errorf("heldBack = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestFirstReportWaitsForSettlingConsumers: a tenant whose keyring comes together with its consumer
// Integrations (the usual onboarding: one apply of a Tenant and its Integrations) gets one report,
// the settled one, not first a ConsumersSettling report that the next one replaces.
func TestFirstReportWaitsForSettlingConsumers(t *testing.T) {
	const name = "together"
	ns := "tenant-" + name
	// The tenant names a policy that does not exist yet: no report until it does.
	createTenant(t, name, name)
	testenv.Eventually(t, timeout, func() error {
		tn := &twv1.Tenant{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: name}, tn); err != nil {
			return err
		}
		if !namespaceReady(tn) {
			return fmt.Errorf("namespace of tenant %s not ready", name)
		}
		return nil
	})
	reports, err := watcher.Watch(ctx, &twv1.TenantList{}, client.MatchingFields{"metadata.name": name})
	if err != nil {
		t.Fatal(err)
	}
	defer reports.Stop()
	a := createConsumer(t, ns, "a", nil)
	b := createConsumer(t, ns, "b", nil)
	waitCachedConsumers(t, ns, nil, "a", "b")
	// Stop the clock at the second the consumers are stamped with, not at the wall clock: both
	// reconcilers read it, and a slow set-up (a loaded CI machine) must not let them settle before
	// the policy comes.
	prev, stamped := fakeClock.Now(), a.CreationTimestamp.Time
	if b.CreationTimestamp.After(stamped) {
		stamped = b.CreationTimestamp.Time
	}
	fakeClock.SetTime(stamped)
	t.Cleanup(func() { fakeClock.SetTime(prev) })

	createPolicy(t, name, 2)
	keyringOf(t, name)
	expectHeldBack := func() {
		t.Helper()
		if _, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: name}}); err != nil {
			t.Fatal(err)
		}
		if k := tenantReport(t, name); k.Reason != "" || k.Policy != "" {
			t.Fatalf("report while the first consumers settle: %+v, want none yet; reports stored: %q", k, reportWrites(reports))
		}
	}
	expectHeldBack()

	fakeClock.SetTime(fakeClock.Now().Add(readerSettle + 2*creationGranularity))
	// The test reconciles rather than wait for the manager's requeue, which counts real seconds:
	// this test is about which reports are stored (TestReaderBindingWaitsForSiblingConsumers
	// covers the requeue on the real clock).
	testenv.Eventually(t, timeout, func() error {
		if _, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: name}}); err != nil {
			return err
		}
		if k := tenantReport(t, name); k.Policy != name || k.Reason != "" || k.ActiveVersion != 1 {
			return fmt.Errorf("report %+v, want a current one", k)
		}
		return nil
	})
	waitReaders(t, ns, "a-sync", "b-sync")
	waitPolicyReady(t, name, 1)
	if seen := reportWrites(reports); len(seen) != 1 || seen[0] != "" {
		t.Errorf("reports stored, by reason: %q; want one, without a reason", seen)
	}

	// A report replaces the stored one whatever the cache held: here a Tenant read before a report
	// with a problem was stored, and a current report written from it.
	live := &twv1.Tenant{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: name}, live); err != nil {
		t.Fatal(err)
	}
	current := live.Status.Keyring.DeepCopy()
	stale := live.DeepCopy()
	stale.Status.Keyring = nil
	failed := current.DeepCopy()
	failed.Reason, failed.Message = twv1.ReasonApplyFailed, "conflict"
	if err := reconciler.writeReport(ctx, live, failed); err != nil {
		t.Fatal(err)
	}
	if err := reconciler.writeReport(ctx, stale, current); err != nil {
		t.Fatal(err)
	}
	if got := tenantReport(t, name); !equality.Semantic.DeepEqual(&got, current) {
		t.Errorf("report written from a stale Tenant is stored as %+v, want %+v", got, current)
	}
}

// reportWrites returns the reasons and messages of the distinct status.keyring values a watch of a
// Tenant has delivered so far, in order ("" for a report without a problem).
func reportWrites(w watch.Interface) []string {
	var last *twv1.TenantKeyringStatus
	var reasons []string
	for {
		select {
		case ev := <-w.ResultChan():
			tn, ok := ev.Object.(*twv1.Tenant)
			if !ok || tn.Status.Keyring == nil || equality.Semantic.DeepEqual(tn.Status.Keyring, last) {
				continue
			}
			last = tn.Status.Keyring
			reasons = append(reasons, strings.TrimSuffix(last.Reason+": "+last.Message, ": "))
		case <-time.After(time.Second):
			return reasons
		}
	}
}
