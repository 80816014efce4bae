package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
)

// approvalDecision is whether the Integration's current flow may move data.
type approvalDecision struct {
	// required: the operator or the Tenant requires approval; otherwise nothing else here applies.
	required bool
	// digest is the current flow's digest.
	digest string
	// honoured is the approval the flow runs on; nil while it waits.
	honoured *twv1.ApprovalStatus
	// waiting says why the flow waits; nil when it is honoured or approval is not required.
	waiting *conditions.Problem
}

// held reports whether the workload stays at zero for want of an approval.
func (d approvalDecision) held() bool { return d.required && d.honoured == nil }

// approvalRequired: the platform requires approval everywhere (--require-approval), and a Tenant
// that names approvers requires it for its own Integrations whatever the flag says.
func approvalRequired(requireApproval bool, t *twv1.Tenant) bool {
	return requireApproval || (t != nil && len(t.Spec.Approvers) > 0)
}

// decideApproval is a pure function of the Integration, its Tenant and the approvals of its
// namespace. An approval is honoured when it names this Integration and its current digest, its
// approver is listed among the Tenant's approvers now (by user name, or by one of the groups the
// admission policy verified), and, under the two-person rule, the approver is not the flow's
// recorded author. Of several, the oldest is honoured, so the status does not flap.
func decideApproval(in *twv1.Integration, t *twv1.Tenant, approvals []twv1.IntegrationApproval, required bool) approvalDecision {
	d := approvalDecision{required: required, digest: flowDigest(in)}
	if !required {
		return d
	}
	var mine []twv1.IntegrationApproval
	for _, a := range approvals {
		if a.Namespace == in.Namespace && a.Spec.Integration == in.Name && a.DeletionTimestamp.IsZero() {
			mine = append(mine, a)
		}
	}
	slices.SortFunc(mine, func(a, b twv1.IntegrationApproval) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	author := in.Annotations[twv1.FlowAuthorAnnotation]
	twoPerson := t != nil && t.Spec.Approval.TwoPerson
	var refused *conditions.Problem
	for _, a := range mine {
		if a.Spec.FlowDigest != d.digest {
			continue
		}
		switch {
		case !listedApprover(t, a.Spec):
			if refused == nil {
				refused = &conditions.Problem{Reason: twv1.ReasonApproverNotAllowed,
					Message: fmt.Sprintf("IntegrationApproval %s by %s is not honoured: %s is not an approver of Tenant %s (spec.approvers)",
						a.Name, a.Spec.ApprovedBy, a.Spec.ApprovedBy, tenantName(t))}
			}
		case twoPerson && author == "":
			refused = &conditions.Problem{Reason: twv1.ReasonApproverIsAuthor,
				Message: fmt.Sprintf("Tenant %s requires two persons (spec.approval.twoPerson) and the flow's author is not recorded "+
					"(annotation %s): the author must set it when changing the flow", tenantName(t), twv1.FlowAuthorAnnotation)}
		case twoPerson && author == a.Spec.ApprovedBy:
			refused = &conditions.Problem{Reason: twv1.ReasonApproverIsAuthor,
				Message: fmt.Sprintf("IntegrationApproval %s is not honoured: %s last changed the flow and Tenant %s requires "+
					"another approver (spec.approval.twoPerson)", a.Name, author, tenantName(t))}
		default:
			d.honoured = &twv1.ApprovalStatus{Name: a.Name, ApprovedBy: a.Spec.ApprovedBy, FlowDigest: a.Spec.FlowDigest, ApprovedAt: a.CreationTimestamp}
			return d
		}
	}
	awaiting := "Awaiting approval of the flow " + describeFlow(in) + "; an approver of Tenant " + tenantName(t) +
		" creates an IntegrationApproval for integration " + in.Name + " with flowDigest " + d.digest
	switch {
	case refused != nil:
		refused.Message += ". " + awaiting
		d.waiting = refused
	case len(mine) > 0:
		d.waiting = &conditions.Problem{Reason: twv1.ReasonFlowChangedSinceApproval,
			Message: "The flow changed since it was approved (the approvals name other digests). " + awaiting}
	default:
		d.waiting = &conditions.Problem{Reason: twv1.ReasonAwaitingApproval, Message: awaiting}
	}
	return d
}

// listedApprover reports whether the Tenant lists the approval's user, or one of its verified
// groups, among its approvers.
func listedApprover(t *twv1.Tenant, a twv1.IntegrationApprovalSpec) bool {
	if t == nil {
		return false
	}
	for _, s := range t.Spec.Approvers {
		switch s.Kind {
		case twv1.SubjectUser:
			if s.Name == a.ApprovedBy {
				return true
			}
		case twv1.SubjectGroup:
			if slices.Contains(a.ApproverGroups, s.Name) {
				return true
			}
		}
	}
	return false
}

func tenantName(t *twv1.Tenant) string {
	if t == nil {
		return "(none)"
	}
	return t.Name
}

// describeFlow says what moves where and when, as an approver reads it.
func describeFlow(in *twv1.Integration) string {
	var egress []string
	for _, e := range in.Spec.Egress {
		ports := e.Ports
		if len(ports) == 0 {
			ports = []int32{443}
		}
		p := make([]string, 0, len(ports))
		for _, n := range ports {
			p = append(p, fmt.Sprint(n))
		}
		egress = append(egress, e.CIDR+":"+strings.Join(p, ","))
	}
	when := "every " + DefaultScheduleEvery.String()
	if s := in.Spec.Schedule; s != nil && s.Interval != nil {
		when = "every " + s.Interval.Duration.String()
	} else if s != nil && s.Cron != "" {
		when = "on cron " + s.Cron + " (UTC)"
	}
	return fmt.Sprintf("of fields %s from %s (%s) to %s (%s), %s, egress %s", strings.Join(renderedFields(in), ", "),
		in.Spec.Source.System, in.Spec.Source.URL, in.Spec.Destination.System, in.Spec.Destination.URL, when, strings.Join(egress, " "))
}

// approvalEvent is the event a change of the honoured approval announces, if any: Approved when a
// flow gets one, ApprovalVoided when the flow changed away from the approved digest,
// ApprovalRevoked when the approved digest lost its approval (deleted, or its approver removed).
func approvalEvent(prev *twv1.ApprovalStatus, d approvalDecision) (eventType, reason, message string) {
	switch now := d.honoured; {
	case !d.required:
		return "", "", ""
	case now != nil && (prev == nil || prev.Name != now.Name || prev.FlowDigest != now.FlowDigest):
		return corev1.EventTypeNormal, "Approved", fmt.Sprintf("Flow %s approved by %s (IntegrationApproval %s): the sync workload may run",
			now.FlowDigest, now.ApprovedBy, now.Name)
	case now != nil || prev == nil:
		return "", "", ""
	case prev.FlowDigest != d.digest:
		return corev1.EventTypeWarning, "ApprovalVoided", fmt.Sprintf("The flow changed since %s approved %s: the sync workload is paused until %s is approved",
			prev.ApprovedBy, prev.FlowDigest, d.digest)
	default:
		return corev1.EventTypeWarning, "ApprovalRevoked", fmt.Sprintf("The approval %s by %s is no longer honoured (%s): the sync workload is paused",
			prev.Name, prev.ApprovedBy, d.waiting.Reason)
	}
}

// decideApprovalFor gathers the approvals of the Integration's namespace from the cache.
func (r *Reconciler) decideApprovalFor(ctx context.Context, in *twv1.Integration, t *twv1.Tenant) (approvalDecision, error) {
	required := approvalRequired(r.RequireApproval, t)
	if !required {
		return decideApproval(in, t, nil, false), nil
	}
	list := &twv1.IntegrationApprovalList{}
	if err := r.Client.List(ctx, list, client.InNamespace(in.Namespace)); err != nil {
		return approvalDecision{}, err
	}
	return decideApproval(in, t, list.Items, true), nil
}

// announceApproval emits the event of a change of the honoured approval, once: the status it
// compares with may come from a cache that has not seen this process's last write yet.
func (r *Reconciler) announceApproval(in *twv1.Integration, d approvalDecision) {
	typ, reason, msg := approvalEvent(in.Status.Approval, d)
	state := "held"
	if d.honoured != nil {
		state = d.honoured.Name + "@" + d.honoured.FlowDigest
	}
	if r.announceOnce(in, topicApproval, state) && reason != "" {
		r.Recorder.Event(in, typ, reason, msg)
	}
}

// Topics of the events announced once per change of state.
const (
	topicApproval   = "approval"
	topicSyncHealth = "sync-health"
)

var announcementTopics = []string{topicApproval, topicSyncHealth}

type announcement struct {
	key   client.ObjectKey
	topic string
}

// announceOnce records state as the Integration's last announced state of topic and says
// whether it differs from the one before: only then may its event go out. The status a reconcile
// compares with may come from a cache that has not seen this process's last write yet, so the
// status alone would announce one change twice.
func (r *Reconciler) announceOnce(in *twv1.Integration, topic, state string) bool {
	last, ok := r.announced.Swap(announcement{key: client.ObjectKeyFromObject(in), topic: topic}, state)
	return !ok || last != state
}

// approvalToIntegration wakes the Integration an approval names, when it is created or deleted.
func approvalToIntegration(_ context.Context, obj client.Object) []reconcile.Request {
	a, ok := obj.(*twv1.IntegrationApproval)
	if !ok {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: a.Namespace, Name: a.Spec.Integration}}}
}
