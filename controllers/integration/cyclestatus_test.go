package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/cyclereport"
	"github.com/tenantwire/tenantwire/internal/labels"
)

// testOperator is where the suite's operator is said to run.
var testOperator = OperatorPeer{Namespace: "tenantwire-system",
	PodSelector: map[string]string{"app.kubernetes.io/name": "tenantwire", "app.kubernetes.io/component": "manager"}}

// fakeCycles plays the sync pods' summaries in envtest, where no pod runs.
type fakeCycles struct {
	mu    sync.Mutex
	by    map[string]cyclereport.Summary
	reads map[string]int
}

func (f *fakeCycles) ReadCycle(_ context.Context, in *twv1.Integration) (*cyclereport.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reads == nil {
		f.reads = map[string]int{}
	}
	f.reads[in.Namespace+"/"+in.Name]++
	s, ok := f.by[in.Namespace+"/"+in.Name]
	if !ok {
		return nil, nil
	}
	return &s, nil
}

func (f *fakeCycles) set(in *twv1.Integration, s cyclereport.Summary) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.by == nil {
		f.by = map[string]cyclereport.Summary{}
	}
	f.by[in.Namespace+"/"+in.Name] = s
}

func (f *fakeCycles) readsOf(in *twv1.Integration) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads[in.Namespace+"/"+in.Name]
}

// TestCycleSummaryIngressAdmitsOnlyTheOperator: the summary port is opened to one peer, the
// operator's namespace and pod labels together, and to nothing else; without an operator peer
// nothing is opened.
func TestCycleSummaryIngressAdmitsOnlyTheOperator(t *testing.T) {
	webhook := func(in *twv1.Integration) { in.Spec.Source = twv1.Endpoint{System: twv1.SystemWebhook} }
	for name, in := range map[string]*twv1.Integration{"records": sampleIntegration(), "webhook": sampleIntegration(webhook)} {
		t.Run(name, func(t *testing.T) {
			ip := sampleInputs()
			ip.tenant.Spec.Networking.AllowIngressFrom = []twv1.NamespaceIngress{{Namespace: "ingress-nginx"}}
			ip.operator = testOperator
			p := desiredEgressPolicy(in, ip)
			var health []networkingv1.NetworkPolicyIngressRule
			for _, r := range p.Spec.Ingress {
				for _, port := range r.Ports {
					if port.Port.IntValue() == HealthPort {
						health = append(health, r)
					}
				}
			}
			if len(health) != 1 || len(health[0].From) != 1 || len(health[0].Ports) != 1 {
				t.Fatalf("health port rules %+v, want one rule, one peer, one port", health)
			}
			peer := health[0].From[0]
			if peer.NamespaceSelector == nil || peer.PodSelector == nil || peer.IPBlock != nil ||
				fmt.Sprint(peer.NamespaceSelector.MatchLabels) != fmt.Sprint(map[string]string{labels.NamespaceNameLabel: "tenantwire-system"}) ||
				fmt.Sprint(peer.PodSelector.MatchLabels) != fmt.Sprint(testOperator.PodSelector) ||
				len(peer.NamespaceSelector.MatchExpressions)+len(peer.PodSelector.MatchExpressions) != 0 {
				t.Errorf("the health port admits %+v, want exactly the operator's namespace and pods", peer)
			}
			if !hasPolicyType(p, networkingv1.PolicyTypeIngress) || countPolicyTypes(p, networkingv1.PolicyTypeIngress) != 1 {
				t.Errorf("policy types %v", p.Spec.PolicyTypes)
			}
			if name == "webhook" && len(p.Spec.Ingress) != 2 {
				t.Errorf("the webhook rule is gone: %+v", p.Spec.Ingress)
			}

			ip.operator = OperatorPeer{}
			if p := desiredEgressPolicy(in, ip); name == "records" && (len(p.Spec.Ingress) != 0 || hasPolicyType(p, networkingv1.PolicyTypeIngress)) {
				t.Errorf("without an operator peer the policy admits %+v", p.Spec.Ingress)
			}
		})
	}
}

func hasPolicyType(p *networkingv1.NetworkPolicy, pt networkingv1.PolicyType) bool {
	return countPolicyTypes(p, pt) > 0
}

func countPolicyTypes(p *networkingv1.NetworkPolicy, pt networkingv1.PolicyType) int {
	n := 0
	for _, t := range p.Spec.PolicyTypes {
		if t == pt {
			n++
		}
	}
	return n
}

// What a compromised or careless sync pod could plant in its summary.
const (
	plantedName   = "Zebediah Quartermaine"
	plantedDOB    = "1937-04-19"
	plantedAPIKey = "ak-PLANTED-9f3Kx2LmQ7"
	plantedID     = "73910482 patient"
)

// TestAPlantedSummaryReachesTheStatusSanitized serves, from a "pod", a summary with a patient's
// name, birth date and ID and an API key where codes, fields and the failure reason belong: none
// of them reaches the Integration's status. An oversized answer is refused.
func TestAPlantedSummaryReachesTheStatusSanitized(t *testing.T) {
	planted := cyclereport.Summary{ConsecutiveFailures: 1, Cycle: &cyclereport.Cycle{
		Start: time.Now(), End: time.Now(), Read: 3, Rejected: 3, Failure: "patient " + plantedID,
		Rejections: []cyclereport.Rejection{{Code: "6240", Field: plantedName, Count: 1}, {Code: plantedAPIKey + " " + plantedDOB, Field: "Email", Count: 2}},
	}}
	body, err := json.Marshal(planted)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(b []byte) *PodCycleReader {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != cyclereport.Path {
				http.NotFound(w, r)
				return
			}
			_, _ = w.Write(b)
		}))
		t.Cleanup(srv.Close)
		host, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
		in := sampleIntegration()
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: in.Namespace, Name: "cerbo-qb-sync-1", Labels: podSelector(in)},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: host,
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
		scheme := runtime.NewScheme()
		_ = corev1.AddToScheme(scheme)
		n, _ := strconv.Atoi(port)
		return &PodCycleReader{Reader: fake.NewClientBuilder().WithScheme(scheme).WithObjects(pod).Build(), Port: n}
	}

	in := sampleIntegration()
	s, err := serve(body).ReadCycle(ctx, in)
	if err != nil || s == nil {
		t.Fatalf("ReadCycle: %v, %v", s, err)
	}
	st := computeStatus(in, observation{cycle: s}, metav1.Now())
	out, _ := json.Marshal(st)
	for _, p := range []string{plantedName, plantedDOB, plantedAPIKey, plantedID, "Zebediah", "73910482"} {
		if strings.Contains(string(out), p) {
			t.Errorf("the status holds the planted %q:\n%s", p, out)
		}
	}
	if st.LastCycle == nil || st.LastCycle.Rejected != 3 || st.LastCycle.FailureReason != cyclereport.FailureOther {
		t.Errorf("lastCycle %+v", st.LastCycle)
	}

	huge := append([]byte(`{"cycle":{"rejections":[`), []byte(strings.Repeat(`{"code":"6240","count":1},`, cyclereport.MaxBytes/20))...)
	huge = append(huge, []byte(`{"code":"6240","count":1}]}}`)...)
	if _, err := serve(huge).ReadCycle(ctx, in); err == nil {
		t.Error("a summary over the size limit was read")
	}
}

func TestSetSyncHealthy(t *testing.T) {
	cases := map[string]struct {
		cycle      *twv1.CycleSummary
		wantStatus metav1.ConditionStatus
		wantReason string
		wantIn     string
	}{
		"no summary":  {cycle: nil},
		"clean cycle": {cycle: &twv1.CycleSummary{Read: 4, Created: 1, Updated: 3}, wantStatus: metav1.ConditionTrue, wantReason: twv1.ReasonCycleSucceeded},
		"rejections": {cycle: &twv1.CycleSummary{Read: 4, Rejected: 2, Rejections: []twv1.RejectionCount{{Code: "6240", Field: "DisplayName", Count: 2}}},
			wantStatus: metav1.ConditionFalse, wantReason: twv1.ReasonRecordsRejected, wantIn: "6240 on DisplayName (2)"},
		"one failure": {cycle: &twv1.CycleSummary{FailureReason: "destination", ConsecutiveFailures: 1},
			wantStatus: metav1.ConditionTrue, wantReason: twv1.ReasonCycleRetrying},
		"failing": {cycle: &twv1.CycleSummary{FailureReason: "source", ConsecutiveFailures: twv1.CycleFailingThreshold},
			wantStatus: metav1.ConditionFalse, wantReason: twv1.ReasonCycleFailing, wantIn: "source"},
		"authorization refused once": {cycle: &twv1.CycleSummary{FailureReason: "authorization", ConsecutiveFailures: 1},
			wantStatus: metav1.ConditionFalse, wantReason: twv1.ReasonVendorAuthorizationExpired, wantIn: "authorizes the app again"},
		"interrupted": {cycle: &twv1.CycleSummary{FailureReason: "interrupted"}, wantStatus: metav1.ConditionTrue, wantReason: twv1.ReasonCycleSucceeded},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			st := twv1.IntegrationStatus{LastCycle: tc.cycle}
			setSyncHealthy(&st, 1, metav1.Now())
			c := conditions.Get(st.Conditions, twv1.IntegrationConditionSyncHealthy)
			if tc.cycle == nil {
				if c != nil {
					t.Errorf("SyncHealthy %+v without a summary", c)
				}
				return
			}
			if c == nil || c.Status != tc.wantStatus || c.Reason != tc.wantReason || !strings.Contains(c.Message, tc.wantIn) {
				t.Errorf("SyncHealthy %+v, want %s/%s with %q", c, tc.wantStatus, tc.wantReason, tc.wantIn)
			}
		})
	}
}

// TestCycleSummaryReachesStatusOnceWithOneEventPerTransition reads a running Integration's
// summaries into its status: rejections, then a refused authorization, then a clean cycle. Each
// transition writes the status once and sends one Warning; reading an unchanged summary again
// writes nothing and sends nothing.
func TestCycleSummaryReachesStatusOnceWithOneEventPerTransition(t *testing.T) {
	ns := setupTenant(t, "cycles", true)
	in := newIntegration(ns, "cerbo-qb")
	createIntegration(t, in)
	syncCredentials(t, in, "v1")
	markAvailable(t, in)
	waitCondition(t, in, twv1.ConditionReady, metav1.ConditionTrue, "")

	end := time.Date(2026, 3, 1, 10, 0, 5, 123456789, time.UTC)
	cycles.set(in, cyclereport.Summary{KeyringVersion: 1, Cycle: &cyclereport.Cycle{Start: end.Add(-5 * time.Second), End: end,
		Read: 5, Created: 3, Rejected: 2, Rejections: []cyclereport.Rejection{{Code: "6240", Field: "DisplayName", Count: 2}}}})
	pollNow(t, in)
	got := waitCondition(t, in, twv1.IntegrationConditionSyncHealthy, metav1.ConditionFalse, twv1.ReasonRecordsRejected)
	lc := got.Status.LastCycle
	if lc == nil || lc.Read != 5 || lc.Created != 3 || lc.Rejected != 2 || len(lc.Rejections) != 1 || lc.Rejections[0].Code != "6240" ||
		!lc.CompletionTime.Time.Equal(end.Truncate(time.Second)) {
		t.Fatalf("lastCycle %+v", lc)
	}
	if !conditions.IsTrue(got.Status.Conditions, twv1.ConditionReady) {
		t.Error("rejected records made the Integration not Ready: Ready is about the operator's objects")
	}
	waitEvents(t, in, twv1.ReasonRecordsRejected, 1)

	time.Sleep(time.Second)
	before := writes.Writes()
	for range 2 {
		pollNow(t, in)
	}
	if n := writes.Writes() - before; n != 0 {
		t.Errorf("reading an unchanged summary made %d writes, want 0", n)
	}
	if n := countEvents(t, in, corev1.EventTypeWarning, twv1.ReasonRecordsRejected); n != 1 {
		t.Errorf("%d RecordsRejected events after reading the same summary again, want 1", n)
	}

	cycles.set(in, cyclereport.Summary{KeyringVersion: 1, ConsecutiveFailures: 1, AuthorizationRefused: true,
		Cycle: &cyclereport.Cycle{Start: end.Add(time.Minute), End: end.Add(time.Minute + time.Second), Failure: cyclereport.FailureAuthorization}})
	pollNow(t, in)
	got = waitCondition(t, in, twv1.IntegrationConditionSyncHealthy, metav1.ConditionFalse, twv1.ReasonVendorAuthorizationExpired)
	if c := conditions.Get(got.Status.Conditions, twv1.IntegrationConditionSyncHealthy); !strings.Contains(c.Message, "refresh token") {
		t.Errorf("the message does not say what to do: %q", c.Message)
	}
	waitEvents(t, in, twv1.ReasonVendorAuthorizationExpired, 1)

	cycles.set(in, cyclereport.Summary{KeyringVersion: 1, Cycle: &cyclereport.Cycle{Start: end.Add(2 * time.Minute), End: end.Add(2*time.Minute + time.Second), Read: 2, Updated: 2}})
	pollNow(t, in)
	waitCondition(t, in, twv1.IntegrationConditionSyncHealthy, metav1.ConditionTrue, twv1.ReasonCycleSucceeded)
}

// pollNow reconciles as the poll does once its interval has passed since the last read: the
// summary is read again.
func pollNow(t *testing.T, in *twv1.Integration) {
	t.Helper()
	reconciler.cycleReads.Delete(client.ObjectKeyFromObject(in))
	reconcileNow(t, in)
}

// TestCycleSummaryIsReadOncePerPollInterval: reconciles that the poll did not bring (a Secret, a
// sibling, a status write) do not call the pod; the poll's does.
func TestCycleSummaryIsReadOncePerPollInterval(t *testing.T) {
	ns := setupTenant(t, "cyclepoll", true)
	in := newIntegration(ns, "cerbo-qb")
	createIntegration(t, in)
	syncCredentials(t, in, "v1")
	markAvailable(t, in)
	waitCondition(t, in, twv1.ConditionReady, metav1.ConditionTrue, "")
	first := cycles.readsOf(in)
	if first == 0 {
		t.Fatal("the summary of an available workload was never read")
	}
	for range 3 {
		reconcileNow(t, in)
	}
	if n := cycles.readsOf(in) - first; n != 0 {
		t.Errorf("%d reads in three reconciles within the poll interval, want 0", n)
	}
	pollNow(t, in)
	if n := cycles.readsOf(in) - first; n != 1 {
		t.Errorf("%d reads when the poll came, want 1", n)
	}
}

func TestCycleReadDue(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		last      *cycleRead
		gen       int64
		due       bool
		wantAfter time.Duration
	}{
		{name: "never read", gen: 1, due: true},
		{name: "read this interval", last: &cycleRead{at: now.Add(-20 * time.Second), generation: 1}, gen: 1, wantAfter: 40 * time.Second},
		{name: "the interval passed", last: &cycleRead{at: now.Add(-time.Minute), generation: 1}, gen: 1, due: true},
		{name: "a rollout since", last: &cycleRead{at: now.Add(-time.Second), generation: 1}, gen: 2, due: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			due, after := cycleReadDue(tc.last, tc.gen, now, time.Minute)
			if due != tc.due || after != tc.wantAfter {
				t.Errorf("due %v after %s, want %v after %s", due, after, tc.due, tc.wantAfter)
			}
		})
	}
}

func reconcileNow(t *testing.T, in *twv1.Integration) {
	t.Helper()
	if _, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(in)}); err != nil {
		t.Fatal(err)
	}
}

func waitEvents(t *testing.T, in *twv1.Integration, reason string, want int32) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := countEvents(t, in, corev1.EventTypeWarning, reason)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s events, want %d", n, reason, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestResyncRequestIsRenderedAndEchoed(t *testing.T) {
	in := sampleIntegration(func(in *twv1.Integration) { in.Spec.Resync = &twv1.IntegrationResync{Request: "ticket-4711"} })
	cm, err := desiredConfigMap(in, sampleInputs())
	if err != nil {
		t.Fatal(err)
	}
	if body := cm.Data["sync.yaml"]; !strings.Contains(body, "resync: ticket-4711") {
		t.Errorf("sync.yaml does not carry the request:\n%s", body)
	}

	cases := map[string]struct {
		prev    *twv1.IntegrationResyncStatus
		summary *cyclereport.Summary
		want    *twv1.IntegrationResyncStatus
	}{
		"requested, not read yet": {want: &twv1.IntegrationResyncStatus{Request: "ticket-4711"}},
		"running":                 {summary: &cyclereport.Summary{ResyncObserved: "ticket-1"}, want: &twv1.IntegrationResyncStatus{Request: "ticket-4711", Observed: "ticket-1"}},
		"done":                    {summary: &cyclereport.Summary{ResyncObserved: "ticket-4711"}, want: &twv1.IntegrationResyncStatus{Request: "ticket-4711", Observed: "ticket-4711"}},
		"done, pod gone": {prev: &twv1.IntegrationResyncStatus{Request: "ticket-4711", Observed: "ticket-4711"},
			want: &twv1.IntegrationResyncStatus{Request: "ticket-4711", Observed: "ticket-4711"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := in.DeepCopy()
			in.Status.Resync = tc.prev
			if got := resyncStatus(in, tc.summary); *got != *tc.want {
				t.Errorf("resync status %+v, want %+v", got, tc.want)
			}
		})
	}
	if got := resyncStatus(sampleIntegration(), &cyclereport.Summary{ResyncObserved: "ticket-4711"}); got != nil {
		t.Errorf("no request, status %+v", got)
	}
}

func TestReplayRequestIsRenderedAndEchoedWithItsCounts(t *testing.T) {
	in := sampleIntegration(func(in *twv1.Integration) { in.Spec.Replay = &twv1.IntegrationReplay{Request: "ticket-4711"} })
	cm, err := desiredConfigMap(in, sampleInputs())
	if err != nil {
		t.Fatal(err)
	}
	if body := cm.Data["sync.yaml"]; !strings.Contains(body, "replay: ticket-4711") {
		t.Errorf("sync.yaml does not carry the request:\n%s", body)
	}
	done := &twv1.IntegrationReplayStatus{Request: "ticket-4711", Observed: "ticket-4711", Replayed: 3, Rejected: 1, Gone: 1}
	cases := map[string]struct {
		prev    *twv1.IntegrationReplayStatus
		summary *cyclereport.Summary
		want    *twv1.IntegrationReplayStatus
	}{
		"requested, not read yet": {want: &twv1.IntegrationReplayStatus{Request: "ticket-4711"}},
		"an earlier replay": {summary: &cyclereport.Summary{Replay: &cyclereport.Replay{Request: "ticket-1", Replayed: 2}},
			want: &twv1.IntegrationReplayStatus{Request: "ticket-4711", Observed: "ticket-1", Replayed: 2}},
		"done": {summary: &cyclereport.Summary{Replay: &cyclereport.Replay{Request: "ticket-4711", Replayed: 3, Rejected: 1, Gone: 1}},
			want: done},
		"done, pod gone": {prev: done, want: done},
		"unsupported": {summary: &cyclereport.Summary{Replay: &cyclereport.Replay{Request: "ticket-4711", Unsupported: true}},
			want: &twv1.IntegrationReplayStatus{Request: "ticket-4711", Observed: "ticket-4711", Unsupported: true}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := in.DeepCopy()
			in.Status.Replay = tc.prev
			if got := replayStatus(in, tc.summary); *got != *tc.want {
				t.Errorf("replay status %+v, want %+v", got, tc.want)
			}
		})
	}
	if got := replayStatus(sampleIntegration(), &cyclereport.Summary{Replay: &cyclereport.Replay{Request: "ticket-4711"}}); got != nil {
		t.Errorf("no request, status %+v", got)
	}
	if got := lastCycleStatus(&cyclereport.Summary{Cycle: &cyclereport.Cycle{}, PendingReplay: 7}); got.PendingReplay != 7 {
		t.Errorf("status.lastCycle.pendingReplay %d, want 7", got.PendingReplay)
	}
}
