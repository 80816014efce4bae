package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// The purge record's condition and reason.
const (
	// TenantConditionManualPurgeRequired is True on a purged (or purging) Tenant when copies of its
	// data or keys remain where the operator cannot destroy them: the vault paths of its
	// credentials and external keys, and PostgreSQL databases it does not own. The message and
	// status.purge.remaining list them.
	TenantConditionManualPurgeRequired = "ManualPurgeRequired"
	// ReasonExternalCopiesRemain: status.purge.remaining lists what the vendor must destroy by hand.
	ReasonExternalCopiesRemain = "ExternalCopiesRemain"
)

// PurgeRemainderKind says what kind of copy a purge could not destroy.
// +kubebuilder:validation:Enum=VaultCredentials;VaultKey;PostgreSQLDatabase;PushedRefreshToken
type PurgeRemainderKind string

const (
	// PurgeRemainderVaultCredentials: vendor credentials at a vault path of the tenant's secret
	// store. ESO read them; nothing in the cluster can delete them.
	PurgeRemainderVaultCredentials PurgeRemainderKind = "VaultCredentials"
	// PurgeRemainderVaultKey: the tenant's keys at the vault path of an external KeyPolicy. Until it
	// is destroyed, the mapping rows (and every backup of them) can still be decrypted.
	PurgeRemainderVaultKey PurgeRemainderKind = "VaultKey"
	// PurgeRemainderPostgreSQLDatabase: a PostgreSQL database that holds the tenant's sealed
	// mapping rows. They are unreadable without the destroyed keys, but still there.
	PurgeRemainderPostgreSQLDatabase PurgeRemainderKind = "PostgreSQLDatabase"
	// PurgeRemainderPushedRefreshToken: a rotated OAuth refresh token the Integration's PushSecret
	// wrote to a vault path (property refresh_token). It is live: with the client credentials it
	// reaches the practice's vendor account until the vendor revokes it.
	PurgeRemainderPushedRefreshToken PurgeRemainderKind = "PushedRefreshToken"
)

// TenantPurgeRecord is what a purge destroyed and what it could not: the record a vendor shows
// under a business associate agreement's termination clause. It holds names, vault paths,
// database hosts and key fingerprints, never PHI, key material or secret values.
type TenantPurgeRecord struct {
	// StartedAt is when the operator took this inventory, just before it destroyed anything.
	StartedAt metav1.Time `json:"startedAt"`
	// CompletedAt is when the keyring was confirmed destroyed and the namespace deleted.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
	// Controller is the field manager of the controller that purged (tenantwire-tenant).
	Controller string `json:"controller"`
	// Namespace was deleted with everything in it.
	Namespace string `json:"namespace"`
	// KeyringVersions are the keyring versions destroyed, each with its fingerprint (the first 16
	// hex digits of a labelled SHA-256 over its keys). Empty when the keyring was already gone.
	// +optional
	// +listType=atomic
	KeyringVersions []PurgedKeyVersion `json:"keyringVersions,omitempty"`
	// Integrations whose children (sync Deployment, credential Secrets, sync.yaml, mapping store
	// volumes and export Jobs) were deleted with the namespace.
	// +optional
	// +listType=set
	Integrations []string `json:"integrations,omitempty"`
	// ExportClaim is the PersistentVolumeClaim that held the offboarding export, deleted with the
	// namespace. Its PersistentVolume follows its reclaim policy: with Retain, the export outlives
	// the purge.
	// +optional
	ExportClaim string `json:"exportClaim,omitempty"`
	// Remaining lists the copies the operator cannot destroy, for the vendor to destroy by hand.
	// +optional
	// +listType=atomic
	Remaining []PurgeRemainder `json:"remaining,omitempty"`
}

// PurgedKeyVersion is one destroyed keyring version.
type PurgedKeyVersion struct {
	Version int32 `json:"version"`
	// Fingerprint identifies the version's keys without revealing them.
	Fingerprint string `json:"fingerprint"`
}

// PurgeRemainder is one copy of a tenant's data or keys outside the operator's reach.
type PurgeRemainder struct {
	Kind PurgeRemainderKind `json:"kind"`
	// Location: for vault copies, the store ("ClusterSecretStore/tenant-vault") and the path; for
	// PostgreSQL, the host, port and database (never the user or a password).
	Location string `json:"location"`
	// Integration whose configuration names this copy; empty for the tenant's keys.
	// +optional
	Integration string `json:"integration,omitempty"`
}
