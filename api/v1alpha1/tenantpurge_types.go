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
	// Stores are the PostgreSQL mapping stores whose rows a purge Job deleted before the keyring
	// was destroyed, one per Integration, with the rows deleted (counts only).
	// +optional
	// +listType=atomic
	Stores []PurgedStore `json:"stores,omitempty"`
	// Remaining lists the copies the operator cannot destroy, for the vendor to destroy by hand.
	// +optional
	// +listType=atomic
	Remaining []PurgeRemainder `json:"remaining,omitempty"`
}

// PurgedStore is one PostgreSQL mapping store emptied by a purge Job.
type PurgedStore struct {
	Integration string `json:"integration"`
	// Location is the host, port and database (never the user or a password).
	Location string `json:"location"`
	// Deleted counts the rows the Job deleted; absent when its pod's report could not be read.
	// +optional
	Deleted *PurgedRows `json:"deleted,omitempty"`
}

// PurgedRows counts the rows a mapping store purge deleted, by what they held.
type PurgedRows struct {
	// MappingRows are the sealed patient-ID mapping rows.
	MappingRows int64 `json:"mappingRows"`
	// SavedTokens are the sealed rotated OAuth refresh tokens the runtime kept.
	SavedTokens int64 `json:"savedTokens"`
	// Cursors are the sealed sync cursors and resync markers.
	Cursors int64 `json:"cursors"`
	// Deliveries are the sealed webhook deliveries not yet synced.
	Deliveries int64 `json:"deliveries"`
	// RejectedRecords are the records a destination refused, kept (sealed) for a replay.
	// +optional
	RejectedRecords int64 `json:"rejectedRecords,omitempty"`
}

// StorePurgePhase is where an Integration's mapping store purge stands.
// +kubebuilder:validation:Enum=Running;Succeeded;Failed
type StorePurgePhase string

const (
	StorePurgeRunning   StorePurgePhase = "Running"
	StorePurgeSucceeded StorePurgePhase = "Succeeded"
	// StorePurgeFailed: the purge Job failed after its retries (or its deadline). The tenant's
	// purge goes on: the rows stay, listed under status.purge.remaining, and are crypto-shredded
	// with the keyring.
	StorePurgeFailed StorePurgePhase = "Failed"
)

// IntegrationStorePurge is the Integration controller's report on the purge Job of its
// PostgreSQL mapping store, which it runs once its Tenant's purge record is written
// (status.purge) and which the Tenant controller waits for before it destroys the keyring.
type IntegrationStorePurge struct {
	Phase StorePurgePhase `json:"phase"`
	// Deleted counts the rows the Job deleted; set once it Succeeded.
	// +optional
	Deleted *PurgedRows `json:"deleted,omitempty"`
	// Message says why a purge Failed.
	// +optional
	Message string `json:"message,omitempty"`
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
	// Reason says why the operator could not destroy a copy it tried to (a PostgreSQL store whose
	// purge Job failed); empty for copies outside its reach.
	// +optional
	Reason string `json:"reason,omitempty"`
}
