package connector

import (
	"crypto/x509"
	"time"

	"github.com/go-logr/logr"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
)

// Options tune every connector. The zero value is the production setting: TLS 1.2 or higher
// against the system's root CAs, 100 records a page, five attempts per call.
type Options struct {
	// MinTLSVersion is the lowest TLS version negotiated: "1.2" (the default when empty) or "1.3".
	// Anything lower is refused when the connector is built.
	MinTLSVersion string
	// RootCAs replaces the system's roots; tests pass the pool of their fake server.
	RootCAs *x509.CertPool
	// Timeout bounds one HTTP exchange, token refreshes included (default 30s).
	Timeout time.Duration

	// PageSize is how many records a page of Changes asks for (default 100); an adapter lowers it
	// to its API's maximum.
	PageSize int

	// MaxAttempts bounds the tries of one call, the first included (default 5).
	MaxAttempts int
	// InitialBackoff and MaxBackoff bound the exponential backoff between tries (defaults 500ms
	// and 30s). Tests set them to milliseconds.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// MaxRetryAfter caps a server's Retry-After (default 60s): a vendor asking for an hour would
	// otherwise hold the sync cycle hostage; the next cycle comes sooner.
	MaxRetryAfter time.Duration
	// OnRetry, when set, is told of every retry and the wait before it, for metrics and tests.
	OnRetry func(err error, wait time.Duration)

	// RateLimit replaces the vendor's published request limit the connector paces its calls by
	// (QuickBooks 500 a minute and 10 in flight per realm, GoHighLevel 100 per 10 seconds per
	// location, Zoho CRM 10 in flight; Cerbo and webhooks publish none). Tests shorten it; the zero
	// value keeps the published limit.
	RateLimit contract.RateLimit
	// BatchRateLimit replaces the vendor's published limit of batch requests (QuickBooks 40 a
	// minute per realm), which calls to a batch endpoint keep to as well.
	BatchRateLimit contract.RateLimit
	// JitterAllowance replaces DefaultJitterAllowance, what the pace adds to each vendor window.
	// The sync benchmark, which runs the published limits in windows divided by a scale, divides
	// it by the same scale, so the whole pace is the published one in compressed time; zero keeps
	// the default.
	JitterAllowance time.Duration

	// AllowedHosts are the host patterns (hostpolicy.Pattern) every request, redirect and token
	// refresh must match; any other host is refused before a connection is opened. Nil allows any
	// HTTPS host: the sync runtime always sets it (from sync.yaml), tests of the adapters need not.
	AllowedHosts []string

	// TokenURL overrides the OAuth2 token endpoint of zoho, quickbooks and gohighlevel. It wins
	// over a token_url credential file and exists for tests.
	TokenURL string

	// RefreshTokens keeps the newest refresh token of a vendor that rotates them (Intuit), so a
	// restarted pod does not fall back to the mounted token the vendor has since retired. Nil keeps
	// it in memory only.
	RefreshTokens RefreshTokenStore

	// Webhook tunes the push-based webhook source.
	Webhook WebhookOptions

	// Logger receives the access log (every vendor request, token refresh and webhook request, at
	// Info; accesslog.go) and retry notes at V(1); never record fields or secrets.
	Logger logr.Logger
	// Now is the clock (default time.Now); tests move it to check replay windows and Retry-After
	// dates.
	Now func() time.Time
}

// WebhookOptions tune the webhook handler that receives pushed records.
type WebhookOptions struct {
	// MaxBodyBytes is the largest accepted delivery (default 1 MiB); larger ones get 413.
	MaxBodyBytes int64
	// QueueCapacity is how many received records may wait for Changes (default 10000); past it
	// deliveries get 503 with Retry-After, so the sender keeps them.
	QueueCapacity int
	// ReplayWindow is how old a delivery's sent_at may be (default 5m); older ones get 401, and
	// within it a repeated idempotency key is acknowledged without queueing the record again.
	ReplayWindow time.Duration
	// Deliveries keeps received records until the sync has written them; the handler answers 202
	// only once it holds the record. Nil keeps them in memory, lost when the process ends: the
	// sync runtime always passes its sealed, store-backed log.
	Deliveries DeliveryLog
}

const (
	defaultTimeout        = 30 * time.Second
	defaultPageSize       = 100
	defaultMaxAttempts    = 5
	defaultInitialBackoff = 500 * time.Millisecond
	defaultMaxBackoff     = 30 * time.Second
	defaultMaxRetryAfter  = 60 * time.Second
	defaultMaxBodyBytes   = 1 << 20
	defaultQueueCapacity  = 10000
	defaultReplayWindow   = 5 * time.Minute
)

// withDefaults fills every unset field so the adapters never test for zero values.
func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.PageSize <= 0 {
		o.PageSize = defaultPageSize
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = defaultMaxAttempts
	}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = defaultInitialBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = defaultMaxBackoff
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = defaultMaxRetryAfter
	}
	if o.Webhook.MaxBodyBytes <= 0 {
		o.Webhook.MaxBodyBytes = defaultMaxBodyBytes
	}
	if o.Webhook.QueueCapacity <= 0 {
		o.Webhook.QueueCapacity = defaultQueueCapacity
	}
	if o.Webhook.ReplayWindow <= 0 {
		o.Webhook.ReplayWindow = defaultReplayWindow
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// pageSize is the configured page size lowered to an API's maximum.
func (o Options) pageSize(apiMax int) int {
	return min(o.PageSize, apiMax)
}

// RefreshTokenStore persists the newest refresh token of one system. The token is secret: an
// implementation must keep it encrypted at rest.
type RefreshTokenStore interface {
	// Load returns the token saved while the mounted credential was mounted, or "" when none was
	// saved or the mounted credential has changed since (a new authorization in the vault wins).
	Load(system, mounted string) (string, error)
	// Save records the newest token, issued while mounted was the mounted credential.
	Save(system, mounted, newest string) error
}
