package v1alpha1

import (
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types of a KeyPolicy besides Ready.
const (
	// KeyPolicyConditionKeyringsReady: every covered tenant's keyring exists, is readable and current.
	KeyPolicyConditionKeyringsReady = "KeyringsReady"
	// KeyPolicyConditionRetentionEnforced: no keyring keeps versions beyond rotation.retainVersions.
	// False (reason AwaitingRewrap) while consumers have not rewrapped onto the active version. It
	// does not affect Ready.
	KeyPolicyConditionRetentionEnforced = "RetentionEnforced"
)

// Condition reasons of a KeyPolicy.
const (
	ReasonKeySourceUnavailable = "KeySourceUnavailable"
	ReasonNoTenants            = "NoTenants"
	ReasonTenantNotReady       = "TenantNotReady"
	// ReasonConsumersSettling: new consumer Integrations of a tenant are bound to its keyring once
	// they have settled (a few seconds), so that Integrations created together are bound together.
	ReasonConsumersSettling = "ConsumersSettling"
	// ReasonAwaitingRewrap: versions beyond retention are kept because some consumer Integration
	// has not yet run, fully available, on the active version (see rotation.retainVersions).
	ReasonAwaitingRewrap = "AwaitingRewrap"
	// ReasonKeyringLost: a tenant that had a keyring (recorded on the Tenant, see
	// KeyringFingerprintAnnotation) no longer has it, or has one without the recorded version. No new
	// keyring is created until the Secret is restored or the loss is acknowledged
	// (AcknowledgeKeyringLossAnnotation).
	ReasonKeyringLost = "KeyringLost"
	// ReasonInvalidConsumers: spec.consumers is not a valid label selector.
	ReasonInvalidConsumers = "InvalidConsumers"
	// ReasonKeyringInvalid: the keyring Secret cannot be read; it is never overwritten.
	ReasonKeyringInvalid = "KeyringInvalid"
)

// Annotations on a Tenant about its keyring.
const (
	// KeyringVersionAnnotation and KeyringFingerprintAnnotation record, on the Tenant, the active
	// version of the tenant's keyring and its fingerprint (never key material). The KeyPolicy
	// controller writes them when it creates or rotates the keyring, and nothing else should: they
	// are how it knows, after the Secret is gone and across restarts, that the tenant had a keyring.
	KeyringVersionAnnotation     = "tenantwire.io/keyring-version"
	KeyringFingerprintAnnotation = "tenantwire.io/keyring-fingerprint"
	// AcknowledgeKeyringLossAnnotation, set on a Tenant to the fingerprint its KeyringLost condition
	// names, accepts that data sealed under that keyring is unreadable: the operator then creates a
	// new keyring (or adopts the Secret present). It names the fingerprint so that it never covers a
	// later loss.
	AcknowledgeKeyringLossAnnotation = "tenantwire.io/acknowledge-keyring-loss"
)

// KeyAlgorithm is how patient-ID mappings are encrypted. Each keyring version holds an encryption
// key for the algorithm and an HMAC-SHA256 key for lookup tokens.
// +kubebuilder:validation:Enum=AES-256-GCM
type KeyAlgorithm string

// AlgorithmAES256GCM encrypts with AES-256 in GCM mode (32-byte key) and derives lookup tokens with
// HMAC-SHA256 (32-byte key).
const AlgorithmAES256GCM KeyAlgorithm = "AES-256-GCM"

// KeySourceType says where key material comes from.
// +kubebuilder:validation:Enum=generated;external
type KeySourceType string

const (
	// KeySourceGenerated: the operator creates key material with crypto/rand.
	KeySourceGenerated KeySourceType = "generated"
	// KeySourceExternal: key material comes from the key vault through External Secrets Operator.
	KeySourceExternal KeySourceType = "external"
)

// ExternalKeySource reads each tenant's key material from its own vault path.
type ExternalKeySource struct {
	// StoreRef is the External Secrets Operator store holding the keys.
	// +required
	StoreRef KeyStoreRef `json:"storeRef"`
	// RemoteKeyTemplate is the vault path of a tenant's keys; "{tenant}" is replaced by the tenant
	// name, so each tenant's key comes from its own path, e.g. "tenants/{tenant}/id-key".
	// +required
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.contains('{tenant}')",message="remoteKeyTemplate must contain {tenant} so that each tenant has its own key path"
	// +kubebuilder:validation:XValidation:rule="!self.contains('..')",message="remoteKeyTemplate must not contain '..'"
	RemoteKeyTemplate string `json:"remoteKeyTemplate"`
	// EncryptionKeyProperty and HMACKeyProperty name the fields of the remote secret holding the
	// base64-encoded 32-byte keys.
	// +optional
	// +kubebuilder:default=encryptionKey
	EncryptionKeyProperty string `json:"encryptionKeyProperty,omitempty"`
	// +optional
	// +kubebuilder:default=hmacKey
	HMACKeyProperty string `json:"hmacKeyProperty,omitempty"`
	// RefreshInterval is how often the vault is re-read. A changed value becomes a new keyring
	// version. Default 1h.
	// +optional
	// +kubebuilder:validation:Type=string
	RefreshInterval *metav1.Duration `json:"refreshInterval,omitempty"`
}

// KeyStoreRef names an External Secrets Operator store.
type KeyStoreRef struct {
	// +kubebuilder:default=ClusterSecretStore
	// +optional
	Kind SecretStoreKind `json:"kind,omitempty"`
	// +required
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// KeySource says where a tenant's key material comes from.
// +kubebuilder:validation:XValidation:rule="(has(self.type) && self.type == 'external') == has(self.external)",message="source.external is required when type is external, and only then"
type KeySource struct {
	// +kubebuilder:default=generated
	// +optional
	Type KeySourceType `json:"type,omitempty"`
	// +optional
	External *ExternalKeySource `json:"external,omitempty"`
}

// KeyRotation says when keys rotate and how long old versions stay.
type KeyRotation struct {
	// Period between rotations of generated keys, e.g. 2160h (90 days). At least 1h.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:default="2160h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h')",message="rotation.period must be at least 1h"
	// +optional
	Period metav1.Duration `json:"period,omitempty"`
	// RetainVersions is how many versions before the active one stay available for decryption. At
	// least 1: the sync runtime re-encrypts records onto the new version after a rotation, and
	// until it has, the previous version is the only key that reads them.
	// Older versions are dropped only once every consumer Integration of the tenant reports the
	// active version in status.keyring.rewrappedVersion: its Deployment runs that version, is fully
	// rolled out and has every replica available. A consumer with no running replica (paused,
	// stopped, suspended, not yet started) reports none and holds them. Until then the keyring
	// keeps more versions and the policy reports RetentionEnforced=False with reason AwaitingRewrap.
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16
	// +optional
	RetainVersions int32 `json:"retainVersions,omitempty"`
}

// KeyPolicySpec is how tenants' ID-mapping keys are sourced, rotated, retained and read.
type KeyPolicySpec struct {
	// Default makes this policy apply to Tenants that name no KeyPolicy. At most one policy should
	// be default; with several, the alphabetically first wins and the others cover no tenant.
	// +optional
	Default bool `json:"default,omitempty"`
	// +kubebuilder:default=AES-256-GCM
	// +optional
	Algorithm KeyAlgorithm `json:"algorithm,omitempty"`
	// Source of key material. Default: generated by the operator.
	// +optional
	// +kubebuilder:default={}
	Source KeySource `json:"source,omitempty"`
	// Rotation schedule and retention. Default: every 2160h (90 days), keeping 2 old versions.
	// +optional
	// +kubebuilder:default={}
	Rotation KeyRotation `json:"rotation,omitempty"`
	// Consumers selects, by label, the Integrations of a tenant whose sync pods may read the
	// keyring. Empty selects all of them. Tenant admins and viewers never can.
	// +optional
	Consumers *metav1.LabelSelector `json:"consumers,omitempty"`
	// RotateNow asks for an immediate rotation of the generated keys of the policy's tenants. Each
	// tenant carries out a request once and records it in status.keyring.rotationRequest; the
	// policy counts the tenants done in status.rotateNow. The field stays: change request to rotate
	// again.
	// +optional
	RotateNow *KeyRotationRequest `json:"rotateNow,omitempty"`
}

// KeyRotationRequest asks for one on-demand rotation, like a Tenant's spec.export: a requested
// value that each tenant reports, once carried out, as its observed value.
type KeyRotationRequest struct {
	// Request names this rotation: each new value rotates once more, the same value never twice.
	// For example a ticket number or a date.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Request string `json:"request"`
	// Tenants limits the rotation to these tenants of the policy; empty rotates every one of them.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	Tenants []string `json:"tenants,omitempty"`
}

// Names reports whether the request covers the tenant.
func (r *KeyRotationRequest) Names(tenant string) bool {
	return r != nil && (len(r.Tenants) == 0 || slices.Contains(r.Tenants, tenant))
}

// MaxFailingTenants bounds status.failing of a KeyPolicy; status.failingCount counts them all.
const MaxFailingTenants = 10

// TenantKeyProblem names a tenant whose keyring is not current and why. The tenant's
// status.keyring.message says more.
type TenantKeyProblem struct {
	Tenant string `json:"tenant"`
	Reason string `json:"reason"`
}

// KeyRotationRequestStatus is the progress of spec.rotateNow.
type KeyRotationRequestStatus struct {
	// Request is the spec.rotateNow.request this progress is about.
	Request string `json:"request"`
	// Rotated counts the tenants named by the request that carried it out.
	Rotated int32 `json:"rotated"`
	// Pending counts the tenants named by the request that have not carried it out yet.
	Pending int32 `json:"pending"`
}

// KeyPolicyStatus is the observed state of a KeyPolicy. It is computed from the covered Tenants'
// status.keyring alone and has the same size whatever the number of tenants.
type KeyPolicyStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// TenantCount is the number of tenants the policy covers.
	// +optional
	TenantCount int32 `json:"tenantCount"`
	// CurrentCount is the number of covered tenants whose keyring is current.
	// +optional
	CurrentCount int32 `json:"currentCount"`
	// AwaitingRewrapCount is the number of covered tenants whose keyring keeps versions beyond
	// rotation.retainVersions until their consumers rewrap.
	// +optional
	AwaitingRewrapCount int32 `json:"awaitingRewrapCount"`
	// FailingCount is the number of covered tenants whose keyring is not current.
	// +optional
	FailingCount int32 `json:"failingCount"`
	// Failing names the first failing tenants by name, at most 10, with their reasons.
	// +optional
	// +listType=map
	// +listMapKey=tenant
	// +kubebuilder:validation:MaxItems=10
	Failing []TenantKeyProblem `json:"failing,omitempty"`
	// RotateNow is the progress of spec.rotateNow.
	// +optional
	RotateNow *KeyRotationRequestStatus `json:"rotateNow,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// DefaultRotationPeriod applies when a policy's rotation period is unset.
const DefaultRotationPeriod = 2160 * time.Hour

// RotationPeriod is the policy's rotation period, or the default.
func (kp *KeyPolicy) RotationPeriod() time.Duration {
	if kp.Spec.Rotation.Period.Duration <= 0 {
		return DefaultRotationPeriod
	}
	return kp.Spec.Rotation.Period.Duration
}

// KeyPolicy says how the encryption keys of tenants' patient-ID mappings are sourced, rotated,
// retained and who may read them.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=kp,categories=tenantwire
// +kubebuilder:printcolumn:name="Algorithm",type=string,JSONPath=`.spec.algorithm`
// +kubebuilder:printcolumn:name="Period",type=string,JSONPath=`.spec.rotation.period`
// +kubebuilder:printcolumn:name="Tenants",type=integer,JSONPath=`.status.tenantCount`
// +kubebuilder:printcolumn:name="Failing",type=integer,JSONPath=`.status.failingCount`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type KeyPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec   KeyPolicySpec   `json:"spec,omitempty"`
	Status KeyPolicyStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// KeyPolicyList is a list of KeyPolicies.
type KeyPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []KeyPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&KeyPolicy{}, &KeyPolicyList{})
}
