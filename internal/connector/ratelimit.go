package connector

import (
	"context"
	"time"

	"golang.org/x/time/rate"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/connector/gohighlevel"
	"github.com/tenantwire/tenantwire/internal/connector/quickbooks"
	zohocrm "github.com/tenantwire/tenantwire/internal/connector/zoho"
)

// publishedRateLimits are the limits each vendor publishes for the scope one connector talks to
// (a QuickBooks realm, a GoHighLevel location, a Zoho CRM organisation), kept in the vendor's
// package with their source. Cerbo publishes none, and a webhook's receiver is the platform's.
var publishedRateLimits = map[string]contract.RateLimit{
	SystemQuickBooks:  quickbooks.RateLimit,
	SystemGoHighLevel: gohighlevel.RateLimit,
	SystemZoho:        zohocrm.RateLimit,
}

// publishedBatchRateLimits are the vendors' limits of batch requests, which apply on top of
// publishedRateLimits to calls marked batch.
var publishedBatchRateLimits = map[string]contract.RateLimit{
	SystemQuickBooks: quickbooks.BatchRateLimit,
}

const (
	// burstShare is the share of a vendor's window the client may send at once.
	burstShare = 0.02
	// DefaultJitterAllowance is how much closer together calls may arrive at the vendor than they left
	// the client (scheduling, connection set-up, the network). The client paces the rest of the
	// limit over the vendor's window plus this allowance, so no window the vendor measures holds
	// more than the limit while the calls' delays differ by less than it. Options.JitterAllowance
	// replaces it.
	DefaultJitterAllowance = 200 * time.Millisecond
)

// clientLimiter keeps one connector's calls under its vendor's published limit, so a sync at full
// speed meets no 429: a token bucket for the request rate and a slot per call in flight.
type clientLimiter struct {
	pace  *rate.Limiter
	slots chan struct{}
}

func newClientLimiter(l contract.RateLimit, allowance time.Duration) *clientLimiter {
	c := &clientLimiter{}
	if l.Requests > 0 && l.Per > 0 {
		burst := max(1, int(float64(l.Requests)*burstShare))
		c.pace = rate.NewLimiter(rate.Limit(float64(l.Requests-burst)/(l.Per+allowance).Seconds()), burst)
	}
	if l.Concurrent > 0 {
		c.slots = make(chan struct{}, l.Concurrent)
	}
	return c
}

// rateLimitFor is the limit a system's connector keeps to: Options.RateLimit when set, else the
// vendor's published one.
func (o Options) rateLimitFor(system string) contract.RateLimit {
	if !o.RateLimit.IsZero() {
		return o.RateLimit
	}
	return publishedRateLimits[system]
}

// batchRateLimitFor is the batch limit a system's connector keeps to: Options.BatchRateLimit when
// set, else the vendor's published one.
func (o Options) batchRateLimitFor(system string) contract.RateLimit {
	if !o.BatchRateLimit.IsZero() {
		return o.BatchRateLimit
	}
	return publishedBatchRateLimits[system]
}

// jitterAllowance is Options.JitterAllowance, else the default.
func (o Options) jitterAllowance() time.Duration {
	if o.JitterAllowance > 0 {
		return o.JitterAllowance
	}
	return DefaultJitterAllowance
}

// acquire takes a slot for one call in flight; release gives it back once the answer is read.
func (c *clientLimiter) acquire(ctx context.Context) (release func(), err error) {
	if c.slots == nil {
		return func() {}, nil
	}
	select {
	case c.slots <- struct{}{}:
		return func() { <-c.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// wait holds one request until the vendor's rate has room for it.
func (c *clientLimiter) wait(ctx context.Context) error {
	if c.pace == nil {
		return nil
	}
	return c.pace.Wait(ctx)
}
