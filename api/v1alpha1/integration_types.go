package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types reported on an Integration, next to Ready, Reconciling and Stalled.
const (
	// IntegrationConditionCredentialsReady mirrors the Ready condition of the Integration's
	// ExternalSecrets: True once the credentials are synced from the vault into Secrets.
	IntegrationConditionCredentialsReady = "CredentialsReady"
	// IntegrationConditionWorkloadReady is True when the sync Deployment is Available with every
	// replica updated (or intentionally scaled to zero while paused or stopped).
	IntegrationConditionWorkloadReady = "WorkloadReady"
)

// Reasons used in Integration conditions.
const (
	ReasonTenantNotFound       = "TenantNotFound"
	ReasonNotInTenantNamespace = "NotInTenantNamespace"
	// ReasonNamespaceNotOwned: the namespace claims a tenant (by its name or its labels) but is not
	// the namespace the operator created for that Tenant; nothing is built in it.
	ReasonNamespaceNotOwned        = "NamespaceNotOwned"
	ReasonSecretStoreMissing       = "SecretStoreMissing"
	ReasonCredentialsOutsidePrefix = "CredentialsOutsidePrefix"
	ReasonExternalSecretsMissing   = "ExternalSecretsCRDMissing"
	ReasonCredentialsPending       = "CredentialsPending"
	ReasonCredentialsSyncFailed    = "CredentialsSyncFailed"
	ReasonDeploymentProgressing    = "DeploymentProgressing"
	ReasonDeploymentUnavailable    = "DeploymentUnavailable"
	ReasonPaused                   = "Paused"
	ReasonTenantSuspended          = "TenantSuspended"
	ReasonTenantOffboarding        = "TenantOffboarding"
	ReasonStopped                  = "Stopped"
	ReasonImageNotAllowed          = "ImageNotAllowed"
	// ReasonHostNotAllowed: a source or destination URL, or the PostgreSQL DSN, names a host
	// outside the platform's allowlist for that system (the operator's --allowed-hosts and
	// --allowed-postgres-hosts).
	ReasonHostNotAllowed = "HostNotAllowed"
	// ReasonEgressNotAllowed: an egress CIDR opens every address, a link-local or metadata address
	// or the cluster's own ranges, and the platform did not allow it (--allowed-egress-cidrs).
	ReasonEgressNotAllowed = "EgressNotAllowed"
	// ReasonInvalidSchedule: spec.schedule.cron is refused by the cron parser the sync runtime
	// uses, for a reason the API server's check cannot see (a range that runs backwards), or it
	// never fires (the 30th of February); the sync pod could not run it, so none is run.
	ReasonInvalidSchedule = "InvalidSchedule"
	// ReasonFieldsNotCovered: spec.fields names protected health information (a PHI-class field
	// such as dateOfBirth) for a destination system the platform has no business associate
	// agreement for (the operator's --baa-covered-systems); nothing runs until one or the other
	// changes.
	ReasonFieldsNotCovered = "FieldsNotCovered"
)

// System is a kind of system an Integration talks to.
// +kubebuilder:validation:Enum=cerbo;quickbooks;zoho;gohighlevel;webhook
type System string

const (
	SystemCerbo       System = "cerbo"
	SystemQuickBooks  System = "quickbooks"
	SystemZoho        System = "zoho"
	SystemGoHighLevel System = "gohighlevel"
	SystemWebhook     System = "webhook"
)

// PatientField names one canonical patient field a practice authorizes to flow, as the sync
// runtime's canonical record defines it: name (given, family and display name), email, phone,
// dateOfBirth, sex and address (postal address). The first three identify a patient; the others
// are protected health information (PHI) and flow only to destinations the platform has marked as
// covered by a business associate agreement.
// +kubebuilder:validation:Enum=name;email;phone;dateOfBirth;sex;address
type PatientField string

// IntegrationState says whether the sync workload runs.
// +kubebuilder:validation:Enum=running;paused;stopped
type IntegrationState string

const (
	// StateRunning runs the sync workload with spec.replicas pods.
	StateRunning IntegrationState = "running"
	// StatePaused keeps everything in place with the Deployment at zero replicas.
	StatePaused IntegrationState = "paused"
	// StateStopped removes the Deployment; credentials and configuration stay so it can start again.
	StateStopped IntegrationState = "stopped"
)

// Credentials locate one system's credentials in the tenant's key vault.
type Credentials struct {
	// RemoteKey is the vault path of the credentials, relative to the tenant's
	// spec.secretStore.pathPrefix (for example "cerbo/api" under "tenants/acme/"). It cannot leave
	// the prefix: ".." and a leading "/" are refused.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="!self.contains('..')",message="credentials.remoteKey must not contain '..'"
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/')",message="credentials.remoteKey must be relative to the tenant's path prefix root, without a leading '/'"
	RemoteKey string `json:"remoteKey"`
	// Properties selects fields of the remote secret (for example client_id, client_secret,
	// refresh_token). Each becomes a file of the same name. Empty takes the whole secret as-is.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9_.-]+$`
	// +kubebuilder:validation:items:MaxLength=128
	Properties []string `json:"properties,omitempty"`
}

// Endpoint is one side of an Integration.
type Endpoint struct {
	// System is the kind of system.
	// +required
	System System `json:"system"`
	// URL is the system's HTTPS base URL. Plain HTTP is refused: every hop carries TLS 1.2 or higher.
	// Its host must be one the platform allows for the system (by default the vendor's documented
	// API hosts; see the operator's --allowed-hosts), on port 443 unless the platform names another,
	// and never an IP address.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://')",message="url must use https:// (plain http is not allowed)"
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getHostname() != ''",message="url must be an absolute https URL with a host"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^https://([[]|[0-9]+([.][0-9]+){3}([:/?#]|$))')",message="url must name the vendor's host, not an IP address"
	URL string `json:"url"`
	// Credentials of this system in the tenant's key vault.
	// +required
	Credentials Credentials `json:"credentials"`
}

// Schedule says when the sync runs: every interval, or on a cron schedule.
// +kubebuilder:validation:XValidation:rule="has(self.interval) != has(self.cron)",message="set exactly one of schedule.interval and schedule.cron"
type Schedule struct {
	// Interval between sync cycles, for example 5m. At least 30s.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('30s')",message="schedule.interval must be at least 30s"
	Interval *metav1.Duration `json:"interval,omitempty"`
	// Cron is a standard five-field cron expression in UTC, for example "*/15 * * * *": minute
	// 0-59, hour 0-23, day of month 1-31, month 1-12 or JAN-DEC, day of week 0-6 or SUN-SAT, each
	// field a *, a value, a range or a comma-separated list of them, optionally with a /step. The
	// API server checks the fields' values; what it cannot check (a range that runs backwards, such
	// as 30-10, or a date that never comes, such as 0 0 30 2 *) the operator refuses with the
	// reason InvalidSchedule.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="self.matches('^([*?]|([0-5]?[0-9])(-([0-5]?[0-9]))?)(/[1-9][0-9]?)?(,([*?]|([0-5]?[0-9])(-([0-5]?[0-9]))?)(/[1-9][0-9]?)?)* +([*?]|([01]?[0-9]|2[0-3])(-([01]?[0-9]|2[0-3]))?)(/[1-9][0-9]?)?(,([*?]|([01]?[0-9]|2[0-3])(-([01]?[0-9]|2[0-3]))?)(/[1-9][0-9]?)?)* +([*?]|(0?[1-9]|[12][0-9]|3[01])(-(0?[1-9]|[12][0-9]|3[01]))?)(/[1-9][0-9]?)?(,([*?]|(0?[1-9]|[12][0-9]|3[01])(-(0?[1-9]|[12][0-9]|3[01]))?)(/[1-9][0-9]?)?)* +([*?]|(0?[1-9]|1[0-2]|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))(-(0?[1-9]|1[0-2]|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)))?)(/[1-9][0-9]?)?(,([*?]|(0?[1-9]|1[0-2]|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))(-(0?[1-9]|1[0-2]|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)))?)(/[1-9][0-9]?)?)* +([*?]|([0-6]|(?i:sun|mon|tue|wed|thu|fri|sat))(-([0-6]|(?i:sun|mon|tue|wed|thu|fri|sat)))?)(/[1-9][0-9]?)?(,([*?]|([0-6]|(?i:sun|mon|tue|wed|thu|fri|sat))(-([0-6]|(?i:sun|mon|tue|wed|thu|fri|sat)))?)(/[1-9][0-9]?)?)*$')",message="schedule.cron must be five space-separated fields in UTC: minute 0-59, hour 0-23, day of month 1-31, month 1-12 or JAN-DEC, day of week 0-6 or SUN-SAT; each a *, a value, a range a-b or a comma-separated list, optionally with /step"
	Cron string `json:"cron,omitempty"`
}

// EgressRule allows the sync pods to reach one network.
type EgressRule struct {
	// CIDR the pods may reach, for example 203.0.113.0/24 or 2001:db8::/64. Every address
	// (0.0.0.0/0, ::/0) and link-local addresses, where cloud metadata services answer, are refused
	// here; the operator also refuses other metadata addresses and the cluster's own ranges unless
	// the platform allows them (--allowed-egress-cidrs).
	// +required
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="cidr must be a valid IPv4 or IPv6 CIDR, for example 203.0.113.0/24"
	// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || cidr(self).prefixLength() != 0",message="cidr must not open every address (0.0.0.0/0, ::/0): name the vendor's networks"
	// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || !(cidr('169.254.0.0/16').containsCIDR(self) || cidr(self).containsCIDR('169.254.0.0/16'))",message="cidr must not overlap 169.254.0.0/16, the link-local range where cloud metadata services answer"
	// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || !(cidr('fe80::/10').containsCIDR(self) || cidr(self).containsCIDR('fe80::/10'))",message="cidr must not overlap fe80::/10, the IPv6 link-local range"
	CIDR string `json:"cidr"`
	// Ports on that network. Default: 443.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:Minimum=1
	// +kubebuilder:validation:items:Maximum=65535
	Ports []int32 `json:"ports,omitempty"`
}

// IntegrationSpec is the desired state of one per-tenant sync workload.
//
// What each destination system can hold and needs, from its codec (a test checks these rules
// against the codecs' declarations): a QuickBooks Customer holds no date of birth and no sex and
// needs a name; a Zoho CRM Contact holds no sex and needs a (last) name; a GoHighLevel contact
// holds every field and needs an email or a phone to be found again; a webhook or Cerbo
// destination holds every field.
// +kubebuilder:validation:XValidation:rule="!has(self.fields) || self.destination.system != 'quickbooks' || !('dateOfBirth' in self.fields)",message="spec.fields: quickbooks cannot hold dateOfBirth; it holds name, email, phone, address"
// +kubebuilder:validation:XValidation:rule="!has(self.fields) || self.destination.system != 'quickbooks' || !('sex' in self.fields)",message="spec.fields: quickbooks cannot hold sex; it holds name, email, phone, address"
// +kubebuilder:validation:XValidation:rule="!has(self.fields) || self.destination.system != 'zoho' || !('sex' in self.fields)",message="spec.fields: zoho cannot hold sex; it holds name, email, phone, dateOfBirth, address"
// +kubebuilder:validation:XValidation:rule="!has(self.fields) || self.destination.system != 'quickbooks' || 'name' in self.fields",message="spec.fields: quickbooks needs name: a Customer must carry a name"
// +kubebuilder:validation:XValidation:rule="!has(self.fields) || self.destination.system != 'zoho' || 'name' in self.fields",message="spec.fields: zoho needs name: a Contact must carry a last name"
// +kubebuilder:validation:XValidation:rule="!has(self.fields) || self.destination.system != 'gohighlevel' || 'email' in self.fields || 'phone' in self.fields",message="spec.fields: gohighlevel needs email or phone: it finds an existing contact by one of them"
// +kubebuilder:validation:XValidation:rule="!has(self.replay) || self.source.system == 'cerbo'",message="spec.replay: only a cerbo source can read a rejected record again by its ID; request spec.resync instead"
type IntegrationSpec struct {
	// Source is the system records are read from.
	// +required
	Source Endpoint `json:"source"`
	// Destination is the system records are written to.
	// +required
	Destination Endpoint `json:"destination"`
	// Fields are the canonical patient fields the practice authorizes to flow from the source to
	// the destination; the sync drops every other field, and IDs of other systems, before the
	// destination sees a record. Default: name, email and phone, the minimum that identifies a
	// patient at every destination. dateOfBirth, sex and address are protected health information:
	// they flow only to a destination system the platform has marked as covered by a business
	// associate agreement (the operator's --baa-covered-systems); otherwise the Integration stalls
	// with the reason FieldsNotCovered and no workload runs. A field the destination system cannot
	// hold, or a field it needs left out, is refused at apply time.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=6
	// +kubebuilder:default={name,email,phone}
	Fields []PatientField `json:"fields,omitempty"`
	// Schedule of the sync cycles. Default: every 5 minutes.
	// +optional
	Schedule *Schedule `json:"schedule,omitempty"`
	// State of the workload: running, paused (zero replicas, all else in place) or stopped
	// (no Deployment).
	// +optional
	// +kubebuilder:default=running
	State IntegrationState `json:"state,omitempty"`
	// Egress lists the networks (CIDR and ports) the sync pods may reach besides the cluster DNS.
	// Nothing else is reachable, so it must cover the source and destination endpoints. No system
	// has built-in defaults: SaaS address ranges change, and an allowance nobody wrote down is an
	// allowance nobody reviews.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	Egress []EgressRule `json:"egress"`
	// CredentialsRefreshInterval is how often credentials are re-read from the vault. Default 1h;
	// each Integration adds its own jitter so that tenants do not refresh in the same second.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="credentialsRefreshInterval must be at least 1m"
	CredentialsRefreshInterval *metav1.Duration `json:"credentialsRefreshInterval,omitempty"`
	// Image of the sync runtime. Default: the operator's own image. Any other image must come from
	// a repository the operator's --allowed-sync-image-prefixes allows, since it runs with the
	// tenant's credentials: the same registry as an entry, and the entry's repository path or one
	// below it at a "/" (registry.example.com/tenantwire allows registry.example.com/tenantwire/sync
	// but not registry.example.com/tenantwire-debug). An image that does not parse is refused.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`
	// Resources of the sync container. Default: requests 50m/64Mi, limits 500m/256Mi.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
	// Replicas of the sync workload while running: 0 or 1. The sync is a single writer per
	// Integration; a second replica would read the same changes and write them twice.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1
	Replicas *int32 `json:"replicas,omitempty"`
	// MappingStore is where the encrypted patient-ID mapping is kept. Default: SQLite on an
	// operator-created PersistentVolumeClaim <integration>-state, which keeps it across rolls
	// (ephemeral trial storage only with sqlite.ephemeral).
	// +optional
	MappingStore *MappingStore `json:"mappingStore,omitempty"`
	// Resync asks the sync to read the source again from the beginning, once per request.
	// +optional
	Resync *IntegrationResync `json:"resync,omitempty"`
	// Replay asks the sync to read the records the destination rejected again from the source, by
	// their IDs, and write them again, once per request. Only a cerbo source can (see
	// IntegrationReplay); for others request a resync.
	// +optional
	Replay *IntegrationReplay `json:"replay,omitempty"`
}

// IntegrationStatus is the observed state of an Integration.
type IntegrationStatus struct {
	// ObservedGeneration is the generation the status was last computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Tenant is the Tenant whose namespace holds this Integration.
	// +optional
	Tenant string `json:"tenant,omitempty"`
	// CredentialsHash is a digest of the synced credential data the running pods were rolled to.
	// It changes exactly when a credential changes.
	// +optional
	CredentialsHash string `json:"credentialsHash,omitempty"`
	// FlowDigest is the digest of the current data flow (source and destination systems and
	// hosts, egress, schedule). An approver copies it into an IntegrationApproval.
	// +optional
	FlowDigest string `json:"flowDigest,omitempty"`
	// Approval is the approval honoured for the current flow; empty while none is.
	// +optional
	Approval *ApprovalStatus `json:"approval,omitempty"`
	// Replicas and AvailableReplicas of the sync Deployment.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// +optional
	AvailableReplicas int32 `json:"availableReplicas,omitempty"`
	// Keyring reports, for a consumer of its tenant's keyring, the key version its sync workload
	// has proven it rewrapped to. The KeyPolicy controller reads it to decide whether an old key
	// version may be dropped. Empty when the Integration consumes no keyring, or when nothing
	// running proves a version (paused, stopped, suspended, awaiting approval, not yet started or
	// mid-rollout).
	// +optional
	Keyring *IntegrationKeyringStatus `json:"keyring,omitempty"`
	// Fields are the canonical fields the sync moves: spec.fields as the operator resolved them,
	// in the order of the field vocabulary. Empty while the Integration is refused, when nothing
	// moves.
	// +optional
	// +listType=atomic
	Fields []PatientField `json:"fields,omitempty"`
	// LastCycle is the sync runtime's summary of its last finished cycle, read from the running
	// sync pod; it stays while the workload is stopped.
	// +optional
	LastCycle *CycleSummary `json:"lastCycle,omitempty"`
	// Resync reports the last spec.resync request and the one the sync runtime completed.
	// +optional
	Resync *IntegrationResyncStatus `json:"resync,omitempty"`
	// Replay reports the last spec.replay request and the one the sync runtime completed.
	// +optional
	Replay *IntegrationReplayStatus `json:"replay,omitempty"`
	// StorePurge reports the purge Job of a PostgreSQL mapping store, run while the Tenant is
	// purged; the Tenant controller reads it into status.purge before it destroys the keyring.
	// +optional
	StorePurge *IntegrationStorePurge `json:"storePurge,omitempty"`
	// Conditions: Ready, CredentialsReady, WorkloadReady, Approved (while the Tenant requires
	// approval), MappingDurable, SyncHealthy once a cycle was reported, and Reconciling or Stalled
	// while they apply.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// IntegrationKeyringStatus is what an Integration's sync workload has proven about the keys of
// its tenant's keyring: the contract between the Integration controller, which watches the
// workload, and the KeyPolicy controller, which trims the keyring.
type IntegrationKeyringStatus struct {
	// RewrappedVersion is the keyring version every record in the Integration's store is sealed
	// under. The sync runtime becomes ready only after it has rewrapped its store onto the keyring's
	// active version, so the operator reports version N when the sync Deployment's pod template
	// runs version N (annotation tenantwire.io/keyring-version), its rollout is complete (latest
	// spec observed, every replica updated, none old or terminating) and at least one replica is
	// wanted and every wanted replica is available. Versions older than the active one are trimmed
	// only once every consumer reports the active version here.
	// +kubebuilder:validation:Minimum=1
	RewrappedVersion int32 `json:"rewrappedVersion"`
}

// Integration is a per-tenant sync workload moving records from a source system to a destination
// system, with credentials from the key vault and egress limited to its declared destinations.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=intg,categories=tenantwire
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.status.tenant`
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.spec.source.system`
// +kubebuilder:printcolumn:name="Destination",type=string,JSONPath=`.spec.destination.system`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.spec.state`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Fields",type=string,JSONPath=`.status.fields`,priority=1
// +kubebuilder:printcolumn:name="Durable",type=string,JSONPath=`.status.conditions[?(@.type=="MappingDurable")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 40",message="Integration name must be at most 40 characters: it prefixes the names of its children"
//
// The names tenantwire and tenantwire-* are reserved for the objects the Tenant and KeyPolicy
// controllers keep in the same namespace, all named tenantwire-<role>. An Integration's children
// are <name>-sync (Deployment, ServiceAccount), <name>-sync-config, <name>-credentials-reader
// (Role, RoleBinding), <name>-egress, <name>-{source,destination,store}-credentials,
// <name>-export and, for a QuickBooks or GoHighLevel side, <name>-token-writer (ServiceAccount,
// Role, RoleBinding) and <name>-rotated-token (Secret, PushSecret). Of today's tenant-level names only the ServiceAccount tenantwire-sync matches one
// of these patterns, for the name tenantwire: two controllers would then own one ServiceAccount,
// and the keyring RoleBinding, which names each consumer's <name>-sync, would grant the keyring to
// the Tenant's shared one. Reserving the whole prefix keeps future tenant-level names out of reach.
// +kubebuilder:validation:XValidation:rule="self.metadata.name != 'tenantwire' && !self.metadata.name.startsWith('tenantwire-')",message="Integration names tenantwire and tenantwire-* are reserved for the tenant namespace's own objects (for example the ServiceAccount tenantwire-sync); choose another name"
type Integration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   IntegrationSpec   `json:"spec"`
	Status IntegrationStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// IntegrationList is a list of Integrations.
type IntegrationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Integration `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Integration{}, &IntegrationList{})
}
