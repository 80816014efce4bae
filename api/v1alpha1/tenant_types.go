package v1alpha1

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types reported on a Tenant. Ready summarises the others.
const (
	// ConditionReady is True when every child the resource needs is in place and healthy.
	ConditionReady = "Ready"
	// ConditionReconciling is present (True) only while the controller is still converging.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is present (True) only when converging needs a change from the user.
	ConditionStalled = "Stalled"

	// TenantConditionNamespaceReady is True when the tenant namespace exists, is Active and is ours.
	TenantConditionNamespaceReady = "NamespaceReady"
	// TenantConditionIsolationReady is True when network policies, quota, limits, RBAC and the sync
	// ServiceAccount are applied in the tenant namespace.
	TenantConditionIsolationReady = "IsolationReady"
	// TenantConditionSecretPathReady is True when the tenant's key vault path is its own: no Tenant
	// created earlier uses the same store with an equal or nested spec.secretStore.pathPrefix.
	// Present only while the Tenant has a secretStore; Integrations build nothing while it is False.
	TenantConditionSecretPathReady = "SecretPathReady"
)

// Reasons used in Tenant conditions.
const (
	ReasonReconciled           = "Reconciled"
	ReasonProgressing          = "Progressing"
	ReasonApplyFailed          = "ApplyFailed"
	ReasonNamespaceTerminating = "NamespaceTerminating"
	ReasonNamespaceConflict    = "NamespaceConflict"
	ReasonNamespaceMissing     = "NamespaceMissing"
	ReasonDependencyNotReady   = "DependencyNotReady"
	ReasonDeleting             = "Deleting"
	// ReasonSecretStorePathOverlap: another Tenant, created earlier, uses the same store with an
	// equal or nested path prefix. Reported on the later Tenant and on its Integrations.
	ReasonSecretStorePathOverlap = "SecretStorePathOverlap"
)

// Tenant lifecycle conditions, reasons and annotations.
const (
	// TenantConditionOffboarding is True from the moment a tenant starts offboarding until its data
	// is purged; its reason says where it stands (GracePeriod, Purged).
	TenantConditionOffboarding = "Offboarding"

	ReasonSuspended   = "Suspended"
	ReasonGracePeriod = "GracePeriod"
	ReasonPurging     = "Purging"
	ReasonPurged      = "Purged"

	// PurgeImmediatelyAnnotation, set to "true" on a Tenant that is offboarding or being deleted,
	// skips the grace period: keys are destroyed and the namespace deleted at once.
	PurgeImmediatelyAnnotation = "tenantwire.io/purge-immediately"
)

// TenantState is where a tenant is in its subscription.
// +kubebuilder:validation:Enum=Active;Suspended;Offboarding
type TenantState string

const (
	// TenantActive runs the tenant's sync workloads.
	TenantActive TenantState = "Active"
	// TenantSuspended scales every sync workload to zero; isolation, credentials and keys stay.
	TenantSuspended TenantState = "Suspended"
	// TenantOffboarding stops the workloads, removes credentials, and purges the tenant's data
	// (keys first, then the namespace) when the grace period ends.
	TenantOffboarding TenantState = "Offboarding"
)

// DefaultGracePeriod is how long an offboarded tenant's data is kept before it is purged.
const DefaultGracePeriod = 60 * 24 * time.Hour

// TenantRetention says how long data outlives the subscription.
type TenantRetention struct {
	// GracePeriod between the start of offboarding and the purge. Default 1440h (60 days); at least 24h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('24h')",message="retention.gracePeriod must be at least 24h (1 day)"
	GracePeriod *metav1.Duration `json:"gracePeriod,omitempty"`
}

// GracePeriod is the tenant's grace period, or the default.
func (t *Tenant) GracePeriod() time.Duration {
	if g := t.Spec.Retention.GracePeriod; g != nil && g.Duration > 0 {
		return g.Duration
	}
	return DefaultGracePeriod
}

// EffectiveState is the state the tenant is treated as being in: a Tenant being deleted offboards.
func (t *Tenant) EffectiveState() TenantState {
	if !t.DeletionTimestamp.IsZero() {
		return TenantOffboarding
	}
	if t.Spec.State == "" {
		return TenantActive
	}
	return t.Spec.State
}

// TenantNamespacePrefix prefixes a Tenant's name to form its namespace.
const TenantNamespacePrefix = "tenant-"

// SubjectKind says whether an RBAC subject is a single user or a group handed over by the SSO provider.
// +kubebuilder:validation:Enum=User;Group
type SubjectKind string

const (
	SubjectUser  SubjectKind = "User"
	SubjectGroup SubjectKind = "Group"
)

// Subject is a user or group as the cluster's OIDC/SSO authenticator names it.
//
// Names starting with "system:" are refused: the API server reserves them for its own identities,
// which reach far beyond one practice (system:authenticated is every signed-in user,
// system:serviceaccounts every ServiceAccount, system:serviceaccount:<ns>:<name> one ServiceAccount
// of any namespace, system:masters the cluster admins, system:nodes the kubelets). RBAC compares
// names exactly, so that prefix is the whole reserved space; ServiceAccounts cannot be named at all
// (kind is User or Group).
// +kubebuilder:validation:XValidation:rule="!self.name.startsWith('system:')",messageExpression="'subject ' + self.kind + ' ' + self.name + ' is reserved by Kubernetes: names starting with system: are the API server identities shared by the whole cluster (every authenticated user, every ServiceAccount, cluster admins); bind the practice users and groups from your identity provider instead'"
type Subject struct {
	// Kind is User or Group.
	// +required
	Kind SubjectKind `json:"kind"`
	// Name is the user name or group name exactly as the authenticator reports it
	// (including any --oidc-username-prefix / --oidc-groups-prefix).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Name string `json:"name"`
}

// TenantApproval sets how the Tenant's approvals are honoured.
type TenantApproval struct {
	// TwoPerson, when true, honours no approval by the user who last changed the flow (the
	// Integration's tenantwire.io/last-flow-author annotation), nor any approval of a flow whose
	// author is not recorded. Default false: one person may author and approve.
	// +optional
	TwoPerson bool `json:"twoPerson,omitempty"`
}

// TenantResources bounds what the tenant namespace may consume.
type TenantResources struct {
	// Quota is the ResourceQuota hard limit of the tenant namespace (for example requests.cpu,
	// limits.memory, pods). When empty the operator applies its documented default quota:
	// requests.cpu=2, requests.memory=4Gi, limits.cpu=4, limits.memory=8Gi, pods=20.
	// +optional
	Quota corev1.ResourceList `json:"quota,omitempty"`
	// DefaultLimits are the container limits a LimitRange sets when a container declares none.
	// Default: cpu=500m, memory=512Mi.
	// +optional
	DefaultLimits corev1.ResourceList `json:"defaultLimits,omitempty"`
	// DefaultRequests are the container requests a LimitRange sets when a container declares none.
	// Default: cpu=50m, memory=64Mi.
	// +optional
	DefaultRequests corev1.ResourceList `json:"defaultRequests,omitempty"`
}

// SecretStoreKind is the kind of External Secrets Operator store a tenant uses.
// +kubebuilder:validation:Enum=SecretStore;ClusterSecretStore
type SecretStoreKind string

const (
	// NamespacedSecretStoreKind is a store in the tenant namespace.
	NamespacedSecretStoreKind SecretStoreKind = "SecretStore"
	// ClusterSecretStoreKind is a cluster-wide store, the default.
	ClusterSecretStoreKind SecretStoreKind = "ClusterSecretStore"
)

// TenantSecretStore says how this tenant's credentials are reached in the key vault.
type TenantSecretStore struct {
	// Kind of the External Secrets Operator store. A SecretStore is looked up in the tenant namespace.
	// +kubebuilder:default=ClusterSecretStore
	// +optional
	Kind SecretStoreKind `json:"kind,omitempty"`
	// Name of the store.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// PathPrefix is the remote path every credential of this tenant's Integrations must stay under,
	// for example "tenants/acme/". It must not contain "..".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="!self.contains('..')",message="pathPrefix must not contain '..'"
	PathPrefix string `json:"pathPrefix"`
}

// KeyPolicyReference names a cluster-scoped KeyPolicy.
type KeyPolicyReference struct {
	// Name of the KeyPolicy.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// NetworkProtocol is the transport protocol of an allowed port.
// +kubebuilder:validation:Enum=TCP;UDP;SCTP
type NetworkProtocol string

// NetworkPort is one allowed port.
type NetworkPort struct {
	// Port number.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`
	// Protocol of the port.
	// +kubebuilder:default=TCP
	// +optional
	Protocol NetworkProtocol `json:"protocol,omitempty"`
}

// NamespaceIngress allows pods of one other namespace to connect into the tenant namespace.
type NamespaceIngress struct {
	// Namespace whose pods may connect, matched by its immutable kubernetes.io/metadata.name label
	// so that no tenant can pretend to be it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace"`
	// Ports the namespace may reach. Empty allows every port.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Ports []NetworkPort `json:"ports,omitempty"`
}

// TenantNetworking lists the exceptions to the tenant namespace's default-deny policies.
type TenantNetworking struct {
	// AllowIngressFrom lists namespaces allowed to open connections into the tenant's pods, for
	// example the ingress controller (inbound webhooks) or monitoring (metrics scraping).
	// +optional
	// +listType=map
	// +listMapKey=namespace
	// +kubebuilder:validation:MaxItems=16
	AllowIngressFrom []NamespaceIngress `json:"allowIngressFrom,omitempty"`
}

// TenantSpec is the desired state of one medical practice's isolated integration stack.
type TenantSpec struct {
	// DisplayName is the practice's human-readable name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	DisplayName string `json:"displayName"`

	// Admins manage the tenant's Integrations and read its workloads, events and logs. They never
	// get access to Secrets.
	// +optional
	// +listType=map
	// +listMapKey=kind
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Admins []Subject `json:"admins,omitempty"`

	// Viewers get read-only access to the tenant's Integrations and workloads. No Secrets, no logs.
	// +optional
	// +listType=map
	// +listMapKey=kind
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Viewers []Subject `json:"viewers,omitempty"`

	// Approvers approve each Integration's data flow before it moves any data, by creating
	// IntegrationApprovals. They read Integrations and nothing else; admins are not approvers unless
	// listed here too. Once a Tenant names approvers, its Integrations run only with an approval,
	// whatever the operator's --require-approval says.
	// +optional
	// +listType=map
	// +listMapKey=kind
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Approvers []Subject `json:"approvers,omitempty"`

	// Approval sets how approvals are honoured.
	// +optional
	Approval TenantApproval `json:"approval,omitempty"`

	// Resources bounds the tenant namespace: quota and default container limits.
	// +optional
	Resources TenantResources `json:"resources,omitempty"`

	// SecretStore says how this tenant's credentials are reached in the key vault.
	// +optional
	SecretStore *TenantSecretStore `json:"secretStore,omitempty"`

	// KeyPolicyRef names the KeyPolicy for this tenant's ID-mapping keys. When empty the KeyPolicy
	// marked default applies.
	// +optional
	KeyPolicyRef *KeyPolicyReference `json:"keyPolicyRef,omitempty"`

	// Networking lists the exceptions to the namespace's default-deny network policies.
	// +optional
	Networking TenantNetworking `json:"networking,omitempty"`

	// State of the subscription: Active, Suspended (workloads at zero) or Offboarding (workloads
	// stopped, credentials removed, data purged after the grace period). Deleting a Tenant offboards
	// it the same way; see the PurgeImmediatelyAnnotation to skip the grace period.
	// +optional
	// +kubebuilder:default=Active
	State TenantState `json:"state,omitempty"`

	// Retention of the tenant's data after offboarding starts.
	// +optional
	Retention TenantRetention `json:"retention,omitempty"`
	// Export requests a bulk export of the tenant's patient-ID mapping. It runs only while the
	// tenant is offboarding (by spec.state or by deletion) and before the purge.
	// +optional
	Export *TenantExport `json:"export,omitempty"`
}

// TenantStatus is the observed state of a Tenant.
type TenantStatus struct {
	// ObservedGeneration is the generation the status was last computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Namespace is the tenant's namespace.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// State is the lifecycle state the operator last acted on.
	// +optional
	State TenantState `json:"state,omitempty"`
	// OffboardingSince is when offboarding started (by spec.state or by deletion).
	// +optional
	OffboardingSince *metav1.Time `json:"offboardingSince,omitempty"`
	// PurgeAfter is when the tenant's keys and namespace are destroyed.
	// +optional
	PurgeAfter *metav1.Time `json:"purgeAfter,omitempty"`
	// PurgedAt is when the keys were destroyed and the namespace deleted.
	// +optional
	PurgedAt *metav1.Time `json:"purgedAt,omitempty"`
	// Export is the progress and result of the export spec.export requests.
	// +optional
	Export *TenantExportStatus `json:"export,omitempty"`
	// Purge records what the purge destroyed and what it could not. It is written before anything
	// is destroyed and completed once the namespace is deleted.
	// +optional
	Purge *TenantPurgeRecord `json:"purge,omitempty"`
	// Keyring reports the tenant's keyring under its KeyPolicy. Only the KeyPolicy controller
	// writes it (field manager tenantwire-keypolicy); the policy's status is computed from it.
	// +optional
	Keyring *TenantKeyringStatus `json:"keyring,omitempty"`
	// Conditions: Ready, NamespaceReady, IsolationReady, SecretPathReady (with a secretStore), and
	// Reconciling or Stalled while they apply.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// AgeRecipient is an age X25519 public key, as `age-keygen` prints it ("Public key: age1...") or
// `age-keygen -y key.txt` derives it from the secret key. The practice keeps the secret key; the
// export is sealed to the public key so only the practice can read it.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=128
// +kubebuilder:validation:XValidation:rule="!self.upperAscii().startsWith('AGE-SECRET-KEY-')",message="spec.export.recipients holds an age secret key (AGE-SECRET-KEY-1...): give only the public key (age1...), which age-keygen -y prints; the secret key stays with the practice and must never be in a Tenant"
// +kubebuilder:validation:XValidation:rule="self.upperAscii().startsWith('AGE-SECRET-KEY-') || self.matches('^age1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$')",message="spec.export.recipients: each recipient must be an age X25519 public key, age1 followed by 58 lower-case bech32 characters, as age-keygen prints it (SSH keys, plugin and post-quantum recipients are not accepted)"
type AgeRecipient string

// TenantKeyringStatus reports a tenant's keyring. It never contains key material.
type TenantKeyringStatus struct {
	// Policy is the KeyPolicy this report was made under, at PolicyGeneration.
	Policy string `json:"policy"`
	// +optional
	PolicyGeneration int64 `json:"policyGeneration,omitempty"`
	// ActiveVersion is the version new data is sealed under.
	// +optional
	ActiveVersion int32 `json:"activeVersion,omitempty"`
	// Versions lists the versions available for decryption, oldest first.
	// +optional
	// +listType=atomic
	Versions []int32 `json:"versions,omitempty"`
	// Fingerprint identifies the active version's keys without revealing them.
	// +optional
	Fingerprint string `json:"fingerprint,omitempty"`
	// +optional
	LastRotation *metav1.Time `json:"lastRotation,omitempty"`
	// NextRotation is when generated keys rotate next; external keys have none.
	// +optional
	NextRotation *metav1.Time `json:"nextRotation,omitempty"`
	// RotationRequest is the last spec.rotateNow.request of the policy this tenant carried out.
	// +optional
	RotationRequest string `json:"rotationRequest,omitempty"`
	// HeldVersions counts the versions kept beyond rotation.retainVersions because
	// LaggingConsumers of the tenant's consumer Integrations have not rewrapped onto the active
	// version.
	// +optional
	HeldVersions int32 `json:"heldVersions,omitempty"`
	// +optional
	LaggingConsumers int32 `json:"laggingConsumers,omitempty"`
	// Reason is set when the keyring is not current, with Message saying why.
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// Stalled is set when only the user can fix the problem; retrying does not.
	// +optional
	Stalled bool `json:"stalled,omitempty"`
}

// TenantExport asks for the tenant's patient-ID mapping to be written to a volume.
// +kubebuilder:validation:XValidation:rule="(has(self.recipients) && size(self.recipients) > 0) || (has(self.plaintext) && self.plaintext)",message="spec.export.recipients must name at least one age public key (age1...) of the practice to seal the export to; an export in clear needs spec.export.plaintext: true, set deliberately"
// +kubebuilder:validation:XValidation:rule="!(has(self.recipients) && size(self.recipients) > 0 && has(self.plaintext) && self.plaintext)",message="spec.export.plaintext: true and spec.export.recipients exclude each other: remove plaintext to seal the export to the recipients, or remove the recipients to export in clear"
type TenantExport struct {
	// Request names this export: each new value runs the export again, the same value never
	// twice. For example a ticket number or a date.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Request string `json:"request"`
	// ClaimName is a PersistentVolumeClaim in the tenant namespace that receives the export: per
	// Integration, the sealed file <request>/<integration>.jsonl.age (or <integration>.jsonl with
	// plaintext) holding one line per patient with their IDs by system, and the manifest
	// <request>/<integration>.manifest.json with every file's size and SHA-256.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	ClaimName string `json:"claimName"`
	// Recipients are the practice's age X25519 public keys (age1...). The export is encrypted so
	// that any one of the matching secret keys decrypts it (`age -d -i key.txt`) and nothing else
	// does. Required unless plaintext is true.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=8
	Recipients []AgeRecipient `json:"recipients,omitempty"`
	// Plaintext, when true, writes the export unencrypted: patients' identifiers in clear on the
	// claim. Only for a practice that cannot use age; status.export.encryption reports it and a
	// Warning event PlaintextExport records it.
	// +optional
	Plaintext bool `json:"plaintext,omitempty"`
}

// ExportEncryption says how an export is written.
// +kubebuilder:validation:Enum=Age;None
type ExportEncryption string

const (
	// ExportEncryptionAge seals the export to the practice's age recipients.
	ExportEncryptionAge ExportEncryption = "Age"
	// ExportEncryptionNone writes it in clear (spec.export.plaintext).
	ExportEncryptionNone ExportEncryption = "None"
)

// Encryption is how the export is written: Age with recipients, None when plaintext is asked for,
// and "" when the request is neither (refused).
func (e *TenantExport) Encryption() ExportEncryption {
	switch {
	case len(e.Recipients) > 0 && !e.Plaintext:
		return ExportEncryptionAge
	case e.Plaintext && len(e.Recipients) == 0:
		return ExportEncryptionNone
	}
	return ""
}

// ExportPhase is where an export is.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed
type ExportPhase string

const (
	// ExportPending waits for the tenant to be offboarding.
	ExportPending ExportPhase = "Pending"
	// ExportRunning has export Jobs not yet finished.
	ExportRunning ExportPhase = "Running"
	// ExportSucceeded wrote every Integration's file.
	ExportSucceeded ExportPhase = "Succeeded"
	// ExportFailed has at least one Job that failed for good.
	ExportFailed ExportPhase = "Failed"
)

// TenantExportStatus reports the export of one request.
type TenantExportStatus struct {
	// Request is the spec.export.request this status describes.
	Request string `json:"request"`
	// Phase of the export.
	Phase ExportPhase `json:"phase"`
	// Encryption is how the files are written: Age (sealed to spec.export.recipients) or None (in
	// clear, because spec.export.plaintext asked for it). Absent when the request is refused.
	// +optional
	Encryption ExportEncryption `json:"encryption,omitempty"`
	// Location is where the files are: the claim and the directory in it.
	// +optional
	Location string `json:"location,omitempty"`
	// Integrations lists the Integrations exported (each a file in Location).
	// +optional
	// +listType=atomic
	Integrations []string `json:"integrations,omitempty"`
	// CompletedAt is when the last Job finished.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
	// Message says what is pending or what failed.
	// +optional
	Message string `json:"message,omitempty"`
}

// Tenant is one medical practice: an isolated namespace with restricted pod security, default-deny
// networking, quota, RBAC for the practice's admins and viewers, and a lifecycle.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=tnt,categories=tenantwire
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.status.namespace`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Purge After",type=string,JSONPath=`.status.purgeAfter`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 56",message="Tenant name must be at most 56 characters: the namespace tenant-<name> must fit 63"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="Tenant name must be a DNS label (lower-case letters, digits and '-', no dots): it becomes part of a namespace name"
type Tenant struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   TenantSpec   `json:"spec"`
	Status TenantStatus `json:"status,omitempty"`
}

// NamespaceName is the namespace that holds this tenant's workloads.
func (t *Tenant) NamespaceName() string { return TenantNamespacePrefix + t.Name }

// +kubebuilder:object:root=true

// TenantList is a list of Tenants.
type TenantList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Tenant `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Tenant{}, &TenantList{})
}
