package integration

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
)

func TestDecideApproval(t *testing.T) {
	in := sampleIntegration(func(in *twv1.Integration) {
		in.Annotations = map[string]string{twv1.FlowAuthorAnnotation: "alice"}
	})
	digest := flowDigest(in)
	at := func(sec int) metav1.Time { return metav1.NewTime(time.Unix(int64(1_700_000_000+sec), 0)) }
	approval := func(name, digest, by string, sec int, groups ...string) twv1.IntegrationApproval {
		return twv1.IntegrationApproval{ObjectMeta: metav1.ObjectMeta{Namespace: in.Namespace, Name: name, CreationTimestamp: at(sec)},
			Spec: twv1.IntegrationApprovalSpec{Integration: in.Name, FlowDigest: digest, ApprovedBy: by, ApproverGroups: groups}}
	}
	tenant := func(twoPerson bool) *twv1.Tenant {
		t := sampleTenant()
		t.Spec.Approvers = []twv1.Subject{{Kind: twv1.SubjectUser, Name: "alice"}, {Kind: twv1.SubjectGroup, Name: "oidc:approvers"}}
		t.Spec.Approval.TwoPerson = twoPerson
		return t
	}
	otherIntegration := approval("other", digest, "alice", 0)
	otherIntegration.Spec.Integration = "another"
	otherNamespace := approval("elsewhere", digest, "alice", 0)
	otherNamespace.Namespace = "tenant-other"
	deleting := approval("deleting", digest, "alice", 0)
	deleting.DeletionTimestamp = ptrTime(at(5))

	cases := map[string]struct {
		tenant     *twv1.Tenant
		required   bool
		approvals  []twv1.IntegrationApproval
		wantReason string // empty: honoured
		wantBy     string
	}{
		"not required":                           {tenant: sampleTenant(), required: false},
		"no approval":                            {tenant: tenant(false), required: true, wantReason: twv1.ReasonAwaitingApproval},
		"approval of another digest":             {tenant: tenant(false), required: true, approvals: []twv1.IntegrationApproval{approval("a", "sha256:"+strings.Repeat("0", 64), "alice", 0)}, wantReason: twv1.ReasonFlowChangedSinceApproval},
		"approval of another Integration":        {tenant: tenant(false), required: true, approvals: []twv1.IntegrationApproval{otherIntegration}, wantReason: twv1.ReasonAwaitingApproval},
		"approval in another namespace":          {tenant: tenant(false), required: true, approvals: []twv1.IntegrationApproval{otherNamespace}, wantReason: twv1.ReasonAwaitingApproval},
		"approval being deleted":                 {tenant: tenant(false), required: true, approvals: []twv1.IntegrationApproval{deleting}, wantReason: twv1.ReasonAwaitingApproval},
		"approver not listed":                    {tenant: tenant(false), required: true, approvals: []twv1.IntegrationApproval{approval("a", digest, "mallory", 0)}, wantReason: twv1.ReasonApproverNotAllowed},
		"group not listed":                       {tenant: tenant(false), required: true, approvals: []twv1.IntegrationApproval{approval("a", digest, "mallory", 0, "oidc:staff")}, wantReason: twv1.ReasonApproverNotAllowed},
		"listed user":                            {tenant: tenant(false), required: true, approvals: []twv1.IntegrationApproval{approval("a", digest, "alice", 0)}, wantBy: "alice"},
		"listed group":                           {tenant: tenant(false), required: true, approvals: []twv1.IntegrationApproval{approval("a", digest, "dave", 0, "oidc:approvers")}, wantBy: "dave"},
		"author approves, one person allowed":    {tenant: tenant(false), required: true, approvals: []twv1.IntegrationApproval{approval("a", digest, "alice", 0)}, wantBy: "alice"},
		"author approves, two persons required":  {tenant: tenant(true), required: true, approvals: []twv1.IntegrationApproval{approval("a", digest, "alice", 0)}, wantReason: twv1.ReasonApproverIsAuthor},
		"another approver, two persons required": {tenant: tenant(true), required: true, approvals: []twv1.IntegrationApproval{approval("a", digest, "alice", 0), approval("b", digest, "dave", 1, "oidc:approvers")}, wantBy: "dave"},
		"no Tenant":                              {tenant: nil, required: true, approvals: []twv1.IntegrationApproval{approval("a", digest, "alice", 0)}, wantReason: twv1.ReasonApproverNotAllowed},
		"oldest honoured approval wins":          {tenant: tenant(false), required: true, approvals: []twv1.IntegrationApproval{approval("z", digest, "dave", 2, "oidc:approvers"), approval("y", digest, "alice", 1)}, wantBy: "alice"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			d := decideApproval(in, c.tenant, c.approvals, c.required)
			if d.digest != digest {
				t.Errorf("digest %q, want %q", d.digest, digest)
			}
			switch {
			case !c.required:
				if d.held() || d.waiting != nil || d.honoured != nil {
					t.Errorf("approval not required, got %+v", d)
				}
			case c.wantReason != "":
				if d.honoured != nil || d.waiting == nil || d.waiting.Reason != c.wantReason || !d.held() {
					t.Fatalf("want held with %s, got honoured=%+v waiting=%+v", c.wantReason, d.honoured, d.waiting)
				}
				if !strings.Contains(d.waiting.Message, digest) {
					t.Errorf("message %q does not name the digest to approve", d.waiting.Message)
				}
			default:
				if d.honoured == nil || d.honoured.ApprovedBy != c.wantBy || d.held() {
					t.Errorf("want honoured by %s, got honoured=%+v waiting=%+v", c.wantBy, d.honoured, d.waiting)
				}
			}
		})
	}

	t.Run("two persons required, author unknown", func(t *testing.T) {
		anon := in.DeepCopy()
		anon.Annotations = nil
		d := decideApproval(anon, tenant(true), []twv1.IntegrationApproval{approval("a", digest, "dave", 0, "oidc:approvers")}, true)
		if d.honoured != nil || d.waiting.Reason != twv1.ReasonApproverIsAuthor || !strings.Contains(d.waiting.Message, "not recorded") {
			t.Errorf("want ApproverIsAuthor for an unrecorded author, got %+v %+v", d.honoured, d.waiting)
		}
	})
}

func ptrTime(t metav1.Time) *metav1.Time { return &t }

func TestApprovalEvent(t *testing.T) {
	now := &twv1.ApprovalStatus{Name: "a", ApprovedBy: "alice", FlowDigest: "sha256:new"}
	prevSame := &twv1.ApprovalStatus{Name: "a", ApprovedBy: "alice", FlowDigest: "sha256:new"}
	prevOld := &twv1.ApprovalStatus{Name: "old", ApprovedBy: "alice", FlowDigest: "sha256:old"}
	waiting := approvalDecision{required: true, digest: "sha256:new", waiting: &conditions.Problem{Reason: twv1.ReasonApproverNotAllowed}}
	cases := map[string]struct {
		prev       *twv1.ApprovalStatus
		d          approvalDecision
		wantType   string
		wantReason string
	}{
		"not required":       {prev: prevOld, d: approvalDecision{digest: "sha256:new"}},
		"first approval":     {d: approvalDecision{required: true, digest: "sha256:new", honoured: now}, wantType: corev1.EventTypeNormal, wantReason: "Approved"},
		"unchanged approval": {prev: prevSame, d: approvalDecision{required: true, digest: "sha256:new", honoured: now}},
		"new flow approved":  {prev: prevOld, d: approvalDecision{required: true, digest: "sha256:new", honoured: now}, wantType: corev1.EventTypeNormal, wantReason: "Approved"},
		"still waiting":      {d: waiting},
		"flow changed":       {prev: prevOld, d: waiting, wantType: corev1.EventTypeWarning, wantReason: "ApprovalVoided"},
		"approval deleted":   {prev: prevSame, d: waiting, wantType: corev1.EventTypeWarning, wantReason: "ApprovalRevoked"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			typ, reason, msg := approvalEvent(c.prev, c.d)
			if typ != c.wantType || reason != c.wantReason {
				t.Errorf("event %s/%s (%s), want %s/%s", typ, reason, msg, c.wantType, c.wantReason)
			}
		})
	}
}
