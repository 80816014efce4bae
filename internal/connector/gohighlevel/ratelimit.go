package gohighlevel

import (
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
)

// RateLimit is the burst limit of GoHighLevel's API v2 for an app per location, as its API
// documentation publishes it ("What are the current rate limits for API 2.0?"): 100 requests per
// 10 seconds. The daily limit (200,000 per location) is far above what one sync moves and is not
// enforced here. Every answer carries X-RateLimit-Max, X-RateLimit-Remaining and
// X-RateLimit-Interval-Milliseconds.
var RateLimit = contract.RateLimit{Requests: 100, Per: 10 * time.Second}
