// Package cyclereport is the contract between the sync runtime and the operator for the summary
// of the last sync cycle: the JSON the runtime serves on its health port and the operator reads
// from the pod. It holds counts, the vendors' error codes and field names, and failure reasons:
// never a value, a record or patient ID, or a credential.
//
// The operator treats what it reads as untrusted (a compromised pod could serve anything):
// Sanitize keeps only what this contract allows before any of it reaches an Integration's status.
package cyclereport

import (
	"regexp"
	"slices"
	"time"
)

// Path is where the sync runtime serves the summary, on its health port.
const Path = "/cycle"

// MaxBytes bounds the summary the operator reads; a real one is a few hundred bytes.
const MaxBytes = 16 << 10

// MaxRejections is how many code and field pairs a summary carries, the most frequent first.
const MaxRejections = 5

// Failure reasons, the label values of tenantwire_sync_failures_total.
const (
	FailureSource        = "source"
	FailureDestination   = "destination"
	FailureAuthorization = "authorization"
	FailureStore         = "store"
	FailureMapping       = "mapping"
	// FailureInterrupted: the pod was stopped mid-cycle; not a failure of the sync.
	FailureInterrupted = "interrupted"
	// FailureOther: the cycle stopped for a reason the runtime does not classify.
	FailureOther = "other"
)

var failureReasons = []string{FailureSource, FailureDestination, FailureAuthorization, FailureStore, FailureMapping,
	FailureInterrupted, FailureOther}

// Summary is what the runtime reports: its last finished cycle and what it learned across cycles.
type Summary struct {
	// Cycle is the last finished cycle, nil before the first one ends.
	Cycle *Cycle `json:"cycle,omitempty"`
	// ConsecutiveFailures counts cycles in a row that stopped early, up to the last one.
	ConsecutiveFailures int `json:"consecutiveFailures"`
	// AuthorizationRefused is true while the last cycle stopped because a vendor refused the
	// Integration's OAuth2 authorization (refresh token or client credentials).
	AuthorizationRefused bool `json:"authorizationRefused"`
	// KeyringVersion is the keyring version the runtime seals new mapping rows with.
	KeyringVersion int32 `json:"keyringVersion"`
	// ResyncObserved is the last resync request (sync.yaml resync) a full pass completed for.
	ResyncObserved string `json:"resyncObserved,omitempty"`
	// PendingReplay counts the records the destination rejected that are kept for replay, as of
	// the end of the last cycle.
	PendingReplay int64 `json:"pendingReplay"`
	// Replay is the last replay of rejected records (sync.yaml replay) the runtime completed.
	Replay *Replay `json:"replay,omitempty"`
}

// Replay is what one replay of rejected records did.
type Replay struct {
	// Request is the replay request (sync.yaml replay) it ran for.
	Request string `json:"request"`
	// Replayed counts records the destination accepted; their rows are removed.
	Replayed int `json:"replayed"`
	// Rejected counts records the destination rejected again; their rows stay.
	Rejected int `json:"rejected"`
	// Gone counts records the source no longer holds; their rows are removed.
	Gone int `json:"gone"`
	// Unreadable counts rows that do not open under the keyring; they stay, counted by key version.
	Unreadable int `json:"unreadable,omitempty"`
	// Unsupported is true when the source cannot read a record by its ID (a webhook source), so
	// nothing was replayed.
	Unsupported bool `json:"unsupported,omitempty"`
}

// Cycle is one sync cycle.
type Cycle struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Read     int       `json:"read"`
	Created  int       `json:"created"`
	Updated  int       `json:"updated"`
	Rejected int       `json:"rejected"`
	// Rejections are the destination's refusals by vendor error code and field, most frequent first.
	Rejections []Rejection `json:"rejections,omitempty"`
	// Failure is why the cycle stopped early, empty when it completed.
	Failure string `json:"failure,omitempty"`
}

// Rejection counts the records one vendor error code refused for one field.
type Rejection struct {
	Code  string `json:"code"`
	Field string `json:"field,omitempty"`
	Count int    `json:"count"`
}

// token is what a vendor error code or a field name may look like: QuickBooks "6080", Zoho
// "MANDATORY_NOT_FOUND", GoHighLevel "422", a property "PrimaryEmailAddr.Address". A value (a
// name with a space, an address with "@") does not match.
// resyncRequest is what spec.resync.request and spec.replay.request may be.
var resyncRequest = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

var token = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,64}$`)

// SortRejections orders rejections most frequent first, then by code and field, and keeps the
// first MaxRejections.
func SortRejections(r []Rejection) []Rejection {
	slices.SortFunc(r, func(a, b Rejection) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		if a.Code != b.Code {
			if a.Code < b.Code {
				return -1
			}
			return 1
		}
		switch {
		case a.Field < b.Field:
			return -1
		case a.Field > b.Field:
			return 1
		}
		return 0
	})
	if len(r) > MaxRejections {
		r = r[:MaxRejections]
	}
	return r
}

// Sanitize returns the summary with only what the contract allows: codes and field names that
// look like identifiers (others become "invalid"), known failure reasons (others become
// "other"), non-negative counts, at most MaxRejections rejections.
func Sanitize(s Summary) Summary {
	out := Summary{ConsecutiveFailures: max(s.ConsecutiveFailures, 0), AuthorizationRefused: s.AuthorizationRefused,
		KeyringVersion: max(s.KeyringVersion, 0), PendingReplay: max(s.PendingReplay, 0)}
	if len(s.ResyncObserved) <= 63 && resyncRequest.MatchString(s.ResyncObserved) {
		out.ResyncObserved = s.ResyncObserved
	}
	if r := s.Replay; r != nil && len(r.Request) <= 63 && resyncRequest.MatchString(r.Request) {
		out.Replay = &Replay{Request: r.Request, Replayed: max(r.Replayed, 0), Rejected: max(r.Rejected, 0), Gone: max(r.Gone, 0),
			Unreadable: max(r.Unreadable, 0), Unsupported: r.Unsupported}
	}
	if s.Cycle == nil {
		return out
	}
	c := *s.Cycle
	c.Read, c.Created, c.Updated, c.Rejected = max(c.Read, 0), max(c.Created, 0), max(c.Updated, 0), max(c.Rejected, 0)
	if c.Failure != "" && !slices.Contains(failureReasons, c.Failure) {
		c.Failure = FailureOther
	}
	var rej []Rejection
	for _, r := range s.Cycle.Rejections {
		if !token.MatchString(r.Code) {
			r.Code = "invalid"
		}
		if r.Field != "" && !token.MatchString(r.Field) {
			r.Field = "invalid"
		}
		r.Count = max(r.Count, 0)
		rej = append(rej, r)
	}
	c.Rejections = SortRejections(rej)
	out.Cycle = &c
	return out
}
