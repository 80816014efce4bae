package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FlowAuthorAnnotation on an Integration names the user who last changed its data flow. Only the
// admission policy tenantwire-integration-author makes it trustworthy: it lets the annotation
// change only together with the flow, and only to the name the API server authenticated for that
// request. The two-person rule (Tenant spec.approval.twoPerson) reads it.
const FlowAuthorAnnotation = "tenantwire.io/last-flow-author"

// Approval condition and reasons reported on an Integration while its Tenant requires approval.
const (
	// IntegrationConditionApproved is True when an approver of the Tenant approved the Integration's
	// current flow digest, with an IntegrationApproval the controller honours.
	IntegrationConditionApproved = "Approved"

	ReasonApproved = "Approved"
	// ReasonAwaitingApproval: no IntegrationApproval names this Integration; the workload is at zero.
	ReasonAwaitingApproval = "AwaitingApproval"
	// ReasonFlowChangedSinceApproval: approvals exist, but none for the current flow digest.
	ReasonFlowChangedSinceApproval = "FlowChangedSinceApproval"
	// ReasonApproverNotAllowed: an approval of the current digest was made by someone the Tenant no
	// longer lists among its approvers.
	ReasonApproverNotAllowed = "ApproverNotAllowed"
	// ReasonApproverIsAuthor: the Tenant requires two persons and the only approvals of the current
	// digest are by the flow's author, or the author is not recorded.
	ReasonApproverIsAuthor = "ApproverIsAuthor"
)

// IntegrationApprovalSpec records that one person approved one exact data flow of one Integration.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="IntegrationApproval spec is immutable: delete the approval and create a new one"
type IntegrationApprovalSpec struct {
	// Integration is the name of the Integration, in the same namespace, whose flow is approved.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=40
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Integration string `json:"integration"`
	// FlowDigest is the digest of the approved flow, copied from the Integration's
	// status.flowDigest. The approval counts only while the Integration's flow has this digest.
	// +required
	// +kubebuilder:validation:Pattern=`^sha256:[0-9a-f]{64}$`
	FlowDigest string `json:"flowDigest"`
	// ApprovedBy is the approver's user name. The admission policy
	// tenantwire-integration-approvals requires it to be the user name the API server
	// authenticated for the request that creates the approval.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	ApprovedBy string `json:"approvedBy"`
	// ApproverGroups are groups of the approver through which the Tenant lists them as an approver.
	// The admission policy requires each to be one of the groups the API server authenticated for
	// the request. Needed only when the approver is listed by group.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=256
	ApproverGroups []string `json:"approverGroups,omitempty"`
}

// IntegrationApproval is an approver's consent that an Integration may move data along one exact
// flow (source and destination systems and hosts, egress, schedule), named by its digest. Only the
// Tenant's approvers may create one; nobody may change one; deleting it revokes the approval.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=intgapproval,categories=tenantwire
// +kubebuilder:printcolumn:name="Integration",type=string,JSONPath=`.spec.integration`
// +kubebuilder:printcolumn:name="Approved By",type=string,JSONPath=`.spec.approvedBy`
// +kubebuilder:printcolumn:name="Digest",type=string,JSONPath=`.spec.flowDigest`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type IntegrationApproval struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec IntegrationApprovalSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// IntegrationApprovalList is a list of IntegrationApprovals.
type IntegrationApprovalList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IntegrationApproval `json:"items"`
}

// ApprovalStatus is the approval the controller honours for the Integration's current flow.
type ApprovalStatus struct {
	// Name of the IntegrationApproval.
	Name string `json:"name"`
	// ApprovedBy is the approver's user name, as the API server authenticated it.
	ApprovedBy string `json:"approvedBy"`
	// FlowDigest is the approved flow's digest.
	FlowDigest string `json:"flowDigest"`
	// ApprovedAt is when the approval was created.
	ApprovedAt metav1.Time `json:"approvedAt"`
}

func init() {
	SchemeBuilder.Register(&IntegrationApproval{}, &IntegrationApprovalList{})
}
