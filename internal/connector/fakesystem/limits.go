package fakesystem

import (
	"sync"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
)

// Stats are what a fake counts of the API calls it answered (the token endpoint is not counted):
// the figures the benchmark and the end-to-end suite report.
type Stats struct {
	// Requests is every API call that reached the fake with a live token.
	Requests int
	// Created and Updated are the records written.
	Created, Updated int
	// Duplicates are writes that tried to create a record the fake already held: a duplicate
	// QuickBooks DisplayName, which Intuit refuses (6240). A client that repeats a create without
	// its idempotency key is what makes them.
	Duplicates int
	// Replayed are writes that repeated the QuickBooks requestid of an earlier one and were
	// answered with its first answer, writing nothing: a retry the idempotency key made harmless.
	Replayed int
	// Refused are writes refused for breaking the vendor's contract (unknown or missing
	// properties, a stale SyncToken).
	Refused int
	// Throttled is the number of 429 answers served for going past the rate limit.
	Throttled int
}

// throttle enforces a contract.RateLimit the way vendors measure it: a sliding window over the
// arrival times of the last Requests calls, and a count of the calls in flight.
type throttle struct {
	mu       sync.Mutex
	limit    contract.RateLimit
	arrivals []time.Time
	inFlight int
}

// admit says whether a call arriving now may be served. When it may, release must be called once
// the answer is written. When it may not, retryIn is when the window has room again (0 for the
// concurrency limit, which frees up as calls finish).
func (t *throttle) admit(limit contract.RateLimit, now time.Time) (release func(), retryIn time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.limit = limit
	if limit.Concurrent > 0 && t.inFlight >= limit.Concurrent {
		return nil, 0, false
	}
	if limit.Requests > 0 && limit.Per > 0 {
		// Keep only the arrivals inside (now-Per, now].
		cut := 0
		for cut < len(t.arrivals) && !t.arrivals[cut].After(now.Add(-limit.Per)) {
			cut++
		}
		t.arrivals = t.arrivals[cut:]
		if len(t.arrivals) >= limit.Requests {
			return nil, t.arrivals[0].Add(limit.Per).Sub(now), false
		}
		t.arrivals = append(t.arrivals, now)
	}
	t.inFlight++
	return t.release, 0, true
}

func (t *throttle) release() {
	t.mu.Lock()
	t.inFlight--
	t.mu.Unlock()
}

// remaining is how many calls the window still has room for, for GoHighLevel's headers.
func (t *throttle) remaining(now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, at := range t.arrivals {
		if at.After(now.Add(-t.limit.Per)) {
			n++
		}
	}
	return max(t.limit.Requests-n, 0)
}

// counter holds a fake's Stats.
type counter struct {
	mu sync.Mutex
	s  Stats
}

func (c *counter) add(f func(*Stats)) {
	c.mu.Lock()
	f(&c.s)
	c.mu.Unlock()
}

func (c *counter) get() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s
}

// pause holds a call for the fake's latency, outside any lock, as a remote API's answer takes time.
func pause(d time.Duration) {
	if d > 0 {
		time.Sleep(d)
	}
}

// orPublished is a fake's rate limit: the one a test set, else the vendor's published one.
func orPublished(set, published contract.RateLimit) contract.RateLimit {
	if set.IsZero() {
		return published
	}
	return set
}
