package v1alpha1

// MappingStore says where an Integration's sync keeps the encrypted patient-ID mapping, the only
// data it holds at rest. Set at most one of sqlite and postgres; an empty mappingStore is SQLite
// on an emptyDir.
// +kubebuilder:validation:XValidation:rule="!(has(self.sqlite) && has(self.postgres))",message="set at most one of mappingStore.sqlite and mappingStore.postgres"
type MappingStore struct {
	// SQLite keeps the mapping in a file on the sync pod's state volume.
	// +optional
	SQLite *SQLiteMappingStore `json:"sqlite,omitempty"`
	// Postgres keeps the mapping in a PostgreSQL database, the production choice.
	// +optional
	Postgres *PostgresMappingStore `json:"postgres,omitempty"`
}

// SQLiteMappingStore keeps the mapping in SQLite on the state volume.
type SQLiteMappingStore struct {
	// ClaimName is a PersistentVolumeClaim in the tenant namespace that becomes the state volume.
	// Without it the state volume is an emptyDir: a rescheduled pod starts with an empty mapping
	// and creates its records again at the destination, and an export after offboarding finds
	// nothing. Set it, or use postgres, for anything but a trial.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	ClaimName string `json:"claimName,omitempty"`
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
// export after offboarding can read it; an emptyDir's mapping goes with the last pod.
func (in *Integration) MappingPersistent() bool {
	ms := in.Spec.MappingStore
	return ms != nil && (ms.Postgres != nil || (ms.SQLite != nil && ms.SQLite.ClaimName != ""))
}
