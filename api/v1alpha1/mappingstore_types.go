package v1alpha1

import "k8s.io/apimachinery/pkg/api/resource"

// The condition that says whether an Integration's mapping outlives its pods, and its reasons.
const (
	// IntegrationConditionMappingDurable is True when the patient-ID mapping outlives the sync
	// pods (a PersistentVolumeClaim or PostgreSQL), False for ephemeral trial storage: there every
	// roll, key rotations included, starts from an empty mapping and creates every record again at
	// the destination.
	IntegrationConditionMappingDurable = "MappingDurable"
	// ReasonStateClaim: SQLite on the claim <integration>-state that the operator created.
	ReasonStateClaim = "StateClaim"
	// ReasonClaimProvided: SQLite on the claim named in mappingStore.sqlite.claimName.
	ReasonClaimProvided = "ClaimProvided"
	// ReasonPostgreSQL: the mapping is in PostgreSQL.
	ReasonPostgreSQL = "PostgreSQL"
	// ReasonEphemeralStorage: mappingStore.sqlite.ephemeral keeps the mapping on an emptyDir.
	ReasonEphemeralStorage = "EphemeralStorage"
	// ReasonStateClaimConflict: a PersistentVolumeClaim named <integration>-state exists and is
	// not this Integration's; the operator neither adopts it nor starts the sync on it.
	ReasonStateClaimConflict = "StateClaimConflict"
)

// DefaultStateClaimSize is the size of the claim the operator creates when
// mappingStore.sqlite.size is empty: a mapping row takes a few hundred bytes.
const DefaultStateClaimSize = "1Gi"

// MappingStore says where an Integration's sync keeps the encrypted patient-ID mapping, the only
// data it holds at rest. Set at most one of sqlite and postgres; an empty mappingStore is SQLite
// on a PersistentVolumeClaim the operator creates (<integration>-state).
// +kubebuilder:validation:XValidation:rule="!(has(self.sqlite) && has(self.postgres))",message="set at most one of mappingStore.sqlite and mappingStore.postgres"
type MappingStore struct {
	// SQLite keeps the mapping in a file on the sync pod's state volume.
	// +optional
	SQLite *SQLiteMappingStore `json:"sqlite,omitempty"`
	// Postgres keeps the mapping in a PostgreSQL database, the production choice.
	// +optional
	Postgres *PostgresMappingStore `json:"postgres,omitempty"`
}

// SQLiteMappingStore keeps the mapping in SQLite on the state volume. By default the state volume
// is a PersistentVolumeClaim the operator creates, <integration>-state (ReadWriteOnce, owned by the
// Integration, so it goes when the Integration is deleted), which keeps the mapping across rolls.
// +kubebuilder:validation:XValidation:rule="!(has(self.claimName) && (has(self.size) || has(self.storageClassName)))",message="mappingStore.sqlite.size and mappingStore.sqlite.storageClassName shape the claim the operator creates; they cannot be set with claimName, whose claim has its own"
// +kubebuilder:validation:XValidation:rule="!(has(self.ephemeral) && self.ephemeral && (has(self.claimName) || has(self.size) || has(self.storageClassName)))",message="mappingStore.sqlite.ephemeral keeps the mapping on an emptyDir and takes no claimName, size or storageClassName"
type SQLiteMappingStore struct {
	// ClaimName is a PersistentVolumeClaim of your own in the tenant namespace that becomes the
	// state volume instead of the claim the operator creates. The operator never changes or
	// deletes it.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	ClaimName string `json:"claimName,omitempty"`
	// Size of the claim the operator creates (default 1Gi). It may grow, where the storage class
	// allows volume expansion, but never shrink.
	// +optional
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="mappingStore.sqlite.size must be above zero"
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).compareTo(quantity(string(oldSelf))) >= 0",message="mappingStore.sqlite.size cannot shrink: a PersistentVolumeClaim only grows"
	Size *resource.Quantity `json:"size,omitempty"`
	// StorageClassName of the claim the operator creates; empty takes the cluster's default
	// class. It cannot change once set: a claim's class is fixed.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="mappingStore.sqlite.storageClassName cannot change: a claim's storage class is fixed"
	StorageClassName string `json:"storageClassName,omitempty"`
	// Ephemeral keeps the mapping on an emptyDir, for trials only: every roll of the sync pods
	// (a key rotation, a credential rotation, a node drain) starts from an empty mapping and
	// creates every record again at the destination, and an export after offboarding finds
	// nothing. The Integration reports MappingDurable=False with reason EphemeralStorage.
	// +optional
	Ephemeral bool `json:"ephemeral,omitempty"`
}

// PostgresMappingStore keeps the mapping in PostgreSQL.
type PostgresMappingStore struct {
	// DSN of the database, for example
	// postgres://sync@db.example.internal:5432/acme?sslmode=verify-full. It must not hold a
	// password (that comes from credentials): no user:password@, and none of the parameters
	// password, passfile, sslpassword, service or servicefile in any case, since the sync's driver
	// (pgx) takes a password from each of them, the last three by reading a file in the pod.
	// Parameter names must not be percent-encoded: the driver decodes them, so pass%77ord would be
	// password. It must verify the server's TLS certificate: sslmode=verify-full or verify-ca,
	// given once (the driver would use the first of several). Use a database dedicated to the
	// tenant: the mapping tables are not shared between tenants. Its host must lie in spec.egress.
	// +required
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.startsWith('postgres://') || self.startsWith('postgresql://')",message="postgres.dsn must be a postgres:// or postgresql:// URL"
	// +kubebuilder:validation:XValidation:rule="isURL(self)",message="postgres.dsn must be a valid URL"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^postgres(ql)?://[^/@]*:[^/@]*@')",message="postgres.dsn must not contain a password; put it in the vault and name it in postgres.credentials"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[^?#]*[?]([^#]*&)?[^=&#]*%')",message="postgres.dsn parameter names must not be percent-encoded"
	// +kubebuilder:validation:XValidation:rule="!self.matches('(?i)[?&](password|passfile|sslpassword|service|servicefile)(=|&|#|$)')",message="postgres.dsn must not carry a password or name a file to read one from (parameters password, passfile, sslpassword, service, servicefile, in any case); put the password in the vault and name it in postgres.credentials"
	// +kubebuilder:validation:XValidation:rule="self.matches('^[^?#]*[?]([^#]*&)?sslmode=verify-(full|ca)(&|#|$)') && !self.matches('^[^?#]*[?]([^#]*&)?sslmode(=[^&#]*)?&([^#]*&)?sslmode(=|&|#|$)')",message="postgres.dsn must set sslmode=verify-full or sslmode=verify-ca, once: the mapping travels over verified TLS only"
	DSN string `json:"dsn"`
	// Credentials locate the database password in the tenant's key vault. Properties may name
	// exactly one field, which becomes the password; empty takes the remote secret's "password".
	// +required
	// +kubebuilder:validation:XValidation:rule="!has(self.properties) || size(self.properties) <= 1",message="postgres.credentials.properties may name at most one field, the password"
	Credentials Credentials `json:"credentials"`
}

// MappingPersistent says the Integration's mapping outlives its pods (PostgreSQL or a claim), so an
// export after offboarding can read it; only ephemeral trial storage (an emptyDir) goes with the
// last pod.
func (in *Integration) MappingPersistent() bool {
	ms := in.Spec.MappingStore
	return ms == nil || ms.Postgres != nil || ms.SQLite == nil || !ms.SQLite.Ephemeral
}
