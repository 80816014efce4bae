package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/cyclereport"
	"github.com/tenantwire/tenantwire/internal/labels"
)

// How the operator learns what the sync cycles did. The sync pod holds no Kubernetes API
// credentials, so it cannot write the Integration's status; instead it serves a PHI-free summary
// of its last cycle on its health port, and the operator reads it from the pod, the way Prometheus
// scrapes: only while the workload is available, at the Integration's schedule (clamped to
// [cyclePollMin, cyclePollMax]), with a short timeout. The Integration's NetworkPolicy admits the
// operator's pods, and no other, to that port (desiredEgressPolicy).
const (
	cyclePollMin     = time.Minute
	cyclePollMax     = 10 * time.Minute
	cycleReadTimeout = 3 * time.Second
)

// CycleReader reads the last cycle's summary from an Integration's running sync pod. It returns
// nil without error when no pod is ready to answer.
type CycleReader interface {
	ReadCycle(ctx context.Context, in *twv1.Integration) (*cyclereport.Summary, error)
}

// OperatorPeer is where the operator's own pods run: the sync pods' NetworkPolicy admits exactly
// these to the health port, for the cycle summary.
type OperatorPeer struct {
	Namespace   string
	PodSelector map[string]string
}

// addCycleSummaryIngress admits the operator's pods, and only them, to the sync pods' health port,
// where the cycle summary is served. The selector pairs the namespace and the pod labels in one
// peer: a pod with the operator's labels in another namespace, or another pod of the operator's
// namespace, is not admitted.
func addCycleSummaryIngress(policy *networkingv1.NetworkPolicy, op OperatorPeer) {
	if op.Namespace == "" || len(op.PodSelector) == 0 {
		return
	}
	policy.Spec.PolicyTypes = append(policy.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
	policy.Spec.Ingress = append(policy.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{
		From: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{labels.NamespaceNameLabel: op.Namespace}},
			PodSelector:       &metav1.LabelSelector{MatchLabels: maps.Clone(op.PodSelector)},
		}},
		Ports: []networkingv1.NetworkPolicyPort{tcpPort(HealthPort)},
	})
}

// PodCycleReader reads the summary over HTTP from the pod's IP. It lists the Integration's pods
// uncached (no pod informer for a read every few minutes), and needs get and list on pods.
type PodCycleReader struct {
	Reader client.Reader
	// Client defaults to one with cycleReadTimeout that follows no redirect.
	Client *http.Client
	// Port is the pods' health port; 0 is HealthPort.
	Port int
}

// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list

// ReadCycle implements CycleReader.
func (p *PodCycleReader) ReadCycle(ctx context.Context, in *twv1.Integration) (*cyclereport.Summary, error) {
	pods := &corev1.PodList{}
	// resourceVersion "0": the API server answers from its watch cache without asking etcd how
	// recent it must be. A pod that became ready a moment ago is found at the next read.
	if err := p.Reader.List(ctx, pods, client.InNamespace(in.Namespace), client.MatchingLabels(podSelector(in)),
		&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: "0"}}); err != nil {
		return nil, err
	}
	var ip string
	for _, pod := range pods.Items {
		if pod.Status.Phase == corev1.PodRunning && pod.Status.PodIP != "" && pod.DeletionTimestamp.IsZero() && podReady(&pod) {
			ip = pod.Status.PodIP
			break
		}
	}
	if ip == "" {
		return nil, nil
	}
	hc := p.Client
	if hc == nil {
		hc = &http.Client{Timeout: cycleReadTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	port := p.Port
	if port == 0 {
		port = HealthPort
	}
	u := "http://" + net.JoinHostPort(ip, strconv.Itoa(port)) + cyclereport.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the sync pod answered %s with HTTP %d", cyclereport.Path, resp.StatusCode)
	}
	return decodeSummary(io.LimitReader(resp.Body, cyclereport.MaxBytes))
}

// decodeSummary reads a summary the pod served and keeps only what the contract allows: the pod
// is not trusted with what reaches the status.
func decodeSummary(r io.Reader) (*cyclereport.Summary, error) {
	var s cyclereport.Summary
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		return nil, fmt.Errorf("the sync pod's cycle summary is not valid: %w", err)
	}
	s = cyclereport.Sanitize(s)
	return &s, nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// cyclePollInterval is how often a running Integration's summary is read: as often as it runs
// cycles, within bounds.
func cyclePollInterval(in *twv1.Integration) time.Duration {
	every := DefaultScheduleEvery
	if s := in.Spec.Schedule; s != nil && s.Interval != nil {
		every = s.Interval.Duration
	}
	return min(max(every, cyclePollMin), cyclePollMax)
}

// cycleRead is when an Integration's summary was last read, and from which generation of its
// Deployment.
type cycleRead struct {
	at         time.Time
	generation int64
}

// cycleReadDue says whether the summary is to be read now and, if not, how long until it is. A
// reconcile is woken by much besides the poll (its Secrets, its siblings, the Deployment's status,
// the status write itself), and each read costs an uncached pod list and a request to the pod: the
// summary is read when the workload first comes up, after each rollout (a new Deployment
// generation), and otherwise once per poll interval.
func cycleReadDue(last *cycleRead, generation int64, now time.Time, every time.Duration) (bool, time.Duration) {
	if last == nil || last.generation != generation {
		return true, 0
	}
	if after := last.at.Add(every).Sub(now); after > 0 {
		return false, after
	}
	return true, 0
}

// observeCycle reads the summary of a running, available workload into obs when a read is due,
// and says when to read it next. A pod that does not answer is no error of the reconcile: the last
// summary stays, and the read is tried again at the next poll.
func (r *Reconciler) observeCycle(ctx context.Context, in *twv1.Integration, obs *observation) time.Duration {
	if r.Cycles == nil || in.Spec.State != twv1.StateRunning || obs.blocked != nil || obs.tenantSuspended ||
		obs.deployment == nil || workloadProblem(in, *obs) != nil {
		return 0
	}
	key := client.ObjectKeyFromObject(in)
	var last *cycleRead
	if v, ok := r.cycleReads.Load(key); ok {
		last = v.(*cycleRead)
	}
	now, every := r.Clock.Now(), cyclePollInterval(in)
	if due, after := cycleReadDue(last, obs.deployment.Generation, now, every); !due {
		return after
	}
	r.cycleReads.Store(key, &cycleRead{at: now, generation: obs.deployment.Generation})
	ctx, cancel := context.WithTimeout(ctx, cycleReadTimeout)
	defer cancel()
	s, err := r.Cycles.ReadCycle(ctx, in)
	if err != nil {
		log.FromContext(ctx).V(1).Info("reading the sync pod's cycle summary", "error", err.Error())
	}
	obs.cycle = s
	return wait.Jitter(every, 0.1)
}

// lastCycleStatus turns the runtime's summary into the status field. Times are cut to seconds, as
// the API server stores them, so an unchanged summary compares equal and writes nothing.
func lastCycleStatus(s *cyclereport.Summary) *twv1.CycleSummary {
	if s == nil || s.Cycle == nil {
		return nil
	}
	c := s.Cycle
	out := &twv1.CycleSummary{
		StartTime: metav1.NewTime(c.Start.Truncate(time.Second)), CompletionTime: metav1.NewTime(c.End.Truncate(time.Second)),
		Read: int64(c.Read), Created: int64(c.Created), Updated: int64(c.Updated), Rejected: int64(c.Rejected),
		FailureReason: c.Failure, ConsecutiveFailures: int32(min(s.ConsecutiveFailures, 1<<30)), KeyringVersion: s.KeyringVersion,
		PendingReplay: s.PendingReplay,
	}
	for _, r := range c.Rejections {
		out.Rejections = append(out.Rejections, twv1.RejectionCount{Code: r.Code, Field: r.Field, Count: int64(r.Count)})
	}
	return out
}

// setSyncHealthy derives SyncHealthy from status.lastCycle alone, so a restarted operator computes
// the same condition from the cluster.
func setSyncHealthy(st *twv1.IntegrationStatus, gen int64, now metav1.Time) {
	c := st.LastCycle
	if c == nil {
		return
	}
	set := func(ok bool, reason, msg string) {
		if ok {
			conditions.True(&st.Conditions, gen, twv1.IntegrationConditionSyncHealthy, reason, msg, now)
		} else {
			conditions.False(&st.Conditions, gen, twv1.IntegrationConditionSyncHealthy, reason, msg, now)
		}
	}
	switch {
	case c.FailureReason == cyclereport.FailureAuthorization:
		set(false, twv1.ReasonVendorAuthorizationExpired, "A vendor refused the Integration's authorization (its refresh token or client credentials): "+
			"nothing moves until someone at the practice authorizes the app again and the new refresh token is stored in the key vault "+
			"under the Integration's credentials key")
	case c.FailureReason != "" && c.FailureReason != cyclereport.FailureInterrupted && c.ConsecutiveFailures >= twv1.CycleFailingThreshold:
		set(false, twv1.ReasonCycleFailing, fmt.Sprintf("%d sync cycles in a row stopped early (last: %s failure); "+
			"see tenantwire_sync_failures_total and the sync pod's log", c.ConsecutiveFailures, c.FailureReason))
	case c.FailureReason != "" && c.FailureReason != cyclereport.FailureInterrupted:
		set(true, twv1.ReasonCycleRetrying, fmt.Sprintf("The last sync cycle stopped early (%s failure); the next one resumes from the last committed page",
			c.FailureReason))
	case c.Rejected > 0:
		set(false, twv1.ReasonRecordsRejected, fmt.Sprintf("The destination refused %d of %d records in the last cycle: %s; "+
			"correct the records at the source (or spec.fields) and they are written on their next change, "+
			"or, with a cerbo source, by a replay (spec.replay)", c.Rejected, c.Read, rejectionList(c.Rejections)))
	default:
		set(true, twv1.ReasonCycleSucceeded, fmt.Sprintf("The last sync cycle read %d records: %d created, %d updated, none rejected",
			c.Read, c.Created, c.Updated))
	}
}

func rejectionList(rs []twv1.RejectionCount) string {
	parts := make([]string, 0, len(rs))
	for _, r := range rs {
		p := r.Code
		if r.Field != "" {
			p += " on " + r.Field
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", p, r.Count))
	}
	if len(parts) == 0 {
		return "no code given"
	}
	return strings.Join(parts, ", ")
}

// announceSyncHealth sends a Warning when SyncHealthy turns to rejections, a refused
// authorization or failing cycles: on the transition only, not on every read.
func (r *Reconciler) announceSyncHealth(in *twv1.Integration, after []metav1.Condition) {
	now := conditions.Get(after, twv1.IntegrationConditionSyncHealthy)
	state := ""
	if now != nil && now.Status == metav1.ConditionFalse {
		state = now.Reason
	}
	if !r.announceOnce(in, topicSyncHealth, state) || state == "" {
		return
	}
	if prev := conditions.Get(in.Status.Conditions, twv1.IntegrationConditionSyncHealthy); prev != nil && prev.Reason == now.Reason {
		return
	}
	r.Recorder.Event(in, corev1.EventTypeWarning, now.Reason, now.Message)
}

// resyncRequest is the resync the Integration asks for, "" for none.
func resyncRequest(in *twv1.Integration) string {
	if in.Spec.Resync == nil {
		return ""
	}
	return in.Spec.Resync.Request
}

// resyncStatus echoes spec.resync.request and the last request the runtime completed, as it
// reported it (or as the status last recorded it, while no summary is read).
func resyncStatus(in *twv1.Integration, s *cyclereport.Summary) *twv1.IntegrationResyncStatus {
	req := resyncRequest(in)
	if req == "" {
		return nil
	}
	st := &twv1.IntegrationResyncStatus{Request: req}
	if prev := in.Status.Resync; prev != nil {
		st.Observed = prev.Observed
	}
	if s != nil && s.ResyncObserved != "" {
		st.Observed = s.ResyncObserved
	}
	return st
}

// replayRequest is the replay of rejected records the Integration asks for, "" for none.
func replayRequest(in *twv1.Integration) string {
	if in.Spec.Replay == nil {
		return ""
	}
	return in.Spec.Replay.Request
}

// replayStatus echoes spec.replay.request with the last replay the runtime completed and its
// counts, as the runtime reported them (or as the status last recorded them, while no summary is
// read).
func replayStatus(in *twv1.Integration, s *cyclereport.Summary) *twv1.IntegrationReplayStatus {
	req := replayRequest(in)
	if req == "" {
		return nil
	}
	st := &twv1.IntegrationReplayStatus{Request: req}
	if prev := in.Status.Replay; prev != nil {
		st = prev.DeepCopy()
		st.Request = req
	}
	if s != nil && s.Replay != nil {
		r := s.Replay
		st.Observed, st.Unsupported = r.Request, r.Unsupported
		st.Replayed, st.Rejected, st.Gone = int64(r.Replayed), int64(r.Rejected), int64(r.Gone)
	}
	return st
}
