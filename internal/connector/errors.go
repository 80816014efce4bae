package connector

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
)

// StatusError is an HTTP error answer of a system. It carries what an operator needs to act (the
// system, what was being done, the status and the vendor's error code) and nothing of the body:
// vendors echo submitted field values in their messages.
type StatusError struct {
	System string
	// Op says what the call was doing, e.g. "list patients" or "upsert contact".
	Op     string
	Status int
	// Code is the vendor's machine-readable error code (and field name where the vendor gives
	// one), when the body had one.
	Code string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("connector: %s: %s: HTTP %d %s", e.System, e.Op, e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	switch e.Status {
	case http.StatusUnauthorized:
		msg += ": the credentials were rejected; check the Integration's credentials"
	case http.StatusForbidden:
		msg += ": the credentials lack a permission this call needs"
	}
	return msg
}

// Retryable says whether a later try may succeed: rate limits and server errors.
func (e *StatusError) Retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// IsRejected says a system refused a record for good: retrying the same record cannot succeed, so
// the runtime counts it and moves on instead of blocking every later record behind it.
func IsRejected(err error) bool { return isRecordRejection(err) }

// isRecordRejection says an error concerns the record itself (the vendor refused its content), so
// the rest of a batch can still be written. Authentication, rate-limit, server and transport errors
// would fail every record alike.
func isRecordRejection(err error) bool {
	if IsAuthorizationRefused(err) {
		return false
	}
	var rejected *RejectedError
	if errors.As(err, &rejected) {
		return true
	}
	// A codec that cannot encode the record for the destination (QuickBooks needs a name) refuses
	// it before a request is sent; the same record will be refused again.
	var refused *contract.EncodeError
	if errors.As(err, &refused) {
		return true
	}
	var status *StatusError
	if !errors.As(err, &status) {
		return false
	}
	switch {
	case status.Retryable(), status.Status == http.StatusUnauthorized, status.Status == http.StatusForbidden:
		return false
	}
	return status.Status >= 400 && status.Status < 500
}

// RejectionOf names why a record was rejected, for counting: the vendor's error code and the field
// it concerns, as far as the answer said ("" where it did not). A record the destination's codec
// refused before sending has the code "codec" and the vendor's property. Neither is ever a value.
func RejectionOf(err error) (code, field string) {
	var refused *contract.EncodeError
	if errors.As(err, &refused) {
		return "codec", refused.Property
	}
	var rejected *RejectedError
	var status *StatusError
	switch {
	case errors.As(err, &rejected):
		code = rejected.Code
	case errors.As(err, &status):
		code = status.Code
		if code == "" {
			code = fmt.Sprintf("http_%d", status.Status)
		}
	}
	code, field, _ = strings.Cut(code, codeFieldSeparator)
	return code, field
}

// RejectedError is a record the system refused in an otherwise successful answer (Zoho reports a
// batch's rejections per record, with HTTP 2xx).
type RejectedError struct {
	System string
	Op     string
	Code   string
}

func (e *RejectedError) Error() string {
	msg := fmt.Sprintf("connector: %s: %s: record rejected", e.System, e.Op)
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	return msg
}

// AuthorizationRefusedError is a token endpoint refusing the refresh token or the client
// credentials (RFC 6749 invalid_grant, invalid_client, ...), usually with HTTP 400. No record can
// be written until someone at the practice authorizes the app again, so it fails the cycle: it is
// never a record's rejection, which would skip every record as if the vendor had refused its
// content.
type AuthorizationRefusedError struct{ *StatusError }

func (e *AuthorizationRefusedError) Error() string {
	return e.StatusError.Error() + ": the refresh token or client credentials were refused; the practice must authorize the app again"
}

func (e *AuthorizationRefusedError) Unwrap() error { return e.StatusError }

// IsAuthorizationRefused says the vendor refused the Integration's authorization itself.
func IsAuthorizationRefused(err error) bool {
	var refused *AuthorizationRefusedError
	return errors.As(err, &refused)
}
