package connector

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// newBackOff is the exponential backoff between tries of one call.
func newBackOff(o Options) backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = o.InitialBackoff
	b.MaxInterval = o.MaxBackoff
	return b
}

// retryAfter reads a Retry-After header in either of its forms (delay seconds or an HTTP date),
// capped at limit. ok is false when the header is absent or unreadable.
func retryAfter(h http.Header, now time.Time, limit time.Duration) (wait time.Duration, ok bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(limit/time.Second) {
			return limit, true
		}
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(at.Sub(now), 0), limit), true
}

// retryAfterError is a retryable error with the wait the server asked for: backoff.Retry finds
// the RetryAfterError, callers find the cause.
type retryAfterError struct {
	err  error
	wait *backoff.RetryAfterError
}

func (e *retryAfterError) Error() string   { return e.err.Error() }
func (e *retryAfterError) Unwrap() []error { return []error{e.err, e.wait} }

func withRetryAfter(err error, wait time.Duration) error {
	return &retryAfterError{err: err, wait: &backoff.RetryAfterError{Duration: wait}}
}
