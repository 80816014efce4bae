package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// IntegrationConditionSyncHealthy says whether the sync runtime's cycles move records: read by the
// operator from the running sync pod's summary of its last cycle (status.lastCycle). Absent until
// the first summary is read. It is not part of Ready: Ready says the operator's objects are in
// place, SyncHealthy what the vendors made of the records.
const IntegrationConditionSyncHealthy = "SyncHealthy"

// Reasons of the SyncHealthy condition.
const (
	// ReasonCycleSucceeded: the last cycle completed and no record was rejected.
	ReasonCycleSucceeded = "CycleSucceeded"
	// ReasonCycleRetrying: the last cycle stopped early, fewer than CycleFailingThreshold in a
	// row; the next one resumes from the last committed page.
	ReasonCycleRetrying = "CycleRetrying"
	// ReasonCycleFailing: CycleFailingThreshold or more cycles in a row stopped early.
	ReasonCycleFailing = "CycleFailing"
	// ReasonRecordsRejected: the last cycle completed, and the destination refused some records
	// for good (by vendor error code and field, in status.lastCycle.rejections).
	ReasonRecordsRejected = "RecordsRejected"
	// ReasonVendorAuthorizationExpired: a vendor refused the Integration's OAuth2 authorization
	// (refresh token or client credentials); nothing moves until the practice authorizes the app
	// again and the new refresh token is in the key vault.
	ReasonVendorAuthorizationExpired = "VendorAuthorizationExpired"
)

// CycleFailingThreshold is how many cycles in a row must stop early before SyncHealthy is False
// with CycleFailing: one or two are usually a vendor's passing outage, which the next cycle
// retries.
const CycleFailingThreshold = 3

// CycleSummary is the sync runtime's summary of its last finished cycle. It holds counts, vendor
// error codes and field names, never a value, a record or patient ID, or a credential.
type CycleSummary struct {
	// StartTime and CompletionTime of the cycle.
	StartTime      metav1.Time `json:"startTime"`
	CompletionTime metav1.Time `json:"completionTime"`
	// Read is how many records the cycle read from the source.
	Read int64 `json:"read"`
	// Created and Updated are the records the destination accepted.
	Created int64 `json:"created"`
	Updated int64 `json:"updated"`
	// Rejected is how many records the destination refused for good.
	Rejected int64 `json:"rejected"`
	// Rejections are the most frequent refusals, by the vendor's error code ("codec" when the
	// destination's codec refused the record before sending it) and the field concerned.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=5
	Rejections []RejectionCount `json:"rejections,omitempty"`
	// FailureReason is why the cycle stopped early (source, destination, authorization, store,
	// mapping, interrupted, other); empty when it completed.
	// +optional
	FailureReason string `json:"failureReason,omitempty"`
	// ConsecutiveFailures counts the cycles in a row, up to this one, that stopped early.
	// +optional
	ConsecutiveFailures int32 `json:"consecutiveFailures,omitempty"`
	// KeyringVersion is the keyring version the runtime seals new mapping rows with.
	// +optional
	KeyringVersion int32 `json:"keyringVersion,omitempty"`
	// PendingReplay is how many records the destination rejected are kept (sealed, by lookup
	// token) for a replay (spec.replay).
	// +optional
	PendingReplay int64 `json:"pendingReplay,omitempty"`
}

// RejectionCount counts the records one vendor error code refused for one field.
type RejectionCount struct {
	// Code is the vendor's error code.
	Code string `json:"code"`
	// Field is the vendor's field name, when its answer named one.
	// +optional
	Field string `json:"field,omitempty"`
	// Count of records.
	Count int64 `json:"count"`
}

// IntegrationResync asks for a full resync: the runtime starts again from the beginning of the
// source's changes, finds every record already written through the mapping and updates it, and
// retries the records the destination rejected.
type IntegrationResync struct {
	// Request names this resync: each new value runs one, the same value never twice. For example
	// a ticket number or a date.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Request string `json:"request"`
}

// IntegrationResyncStatus reports where the last resync request stands.
type IntegrationResyncStatus struct {
	// Request is spec.resync.request.
	Request string `json:"request"`
	// Observed is the last request the sync runtime completed a full pass for; equal to Request
	// once the requested resync is done.
	// +optional
	Observed string `json:"observed,omitempty"`
}

// IntegrationReplay asks the sync to replay the records the destination rejected: each is read
// again from the source by its ID and written again; those the destination accepts leave the
// table of rejected records. Only a source that can read one record by its ID can replay (cerbo).
type IntegrationReplay struct {
	// Request names this replay: each new value runs one, the same value never twice. For example
	// a ticket number or a date.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Request string `json:"request"`
}

// IntegrationReplayStatus reports where the last replay request stands, with the counts of the
// last replay the sync runtime completed.
type IntegrationReplayStatus struct {
	// Request is spec.replay.request.
	Request string `json:"request"`
	// Observed is the last request the sync runtime completed a replay for; equal to Request once
	// the requested replay is done. The counts below are of that replay.
	// +optional
	Observed string `json:"observed,omitempty"`
	// Replayed counts records the destination accepted; they left the table.
	// +optional
	Replayed int64 `json:"replayed,omitempty"`
	// Rejected counts records the destination rejected again; they stay for a later replay.
	// +optional
	Rejected int64 `json:"rejected,omitempty"`
	// Gone counts records the source no longer holds; they left the table.
	// +optional
	Gone int64 `json:"gone,omitempty"`
	// Unsupported is true when the source cannot read a record by its ID, so nothing was replayed.
	// +optional
	Unsupported bool `json:"unsupported,omitempty"`
}
