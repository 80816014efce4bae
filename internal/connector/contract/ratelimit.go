package contract

import "time"

// RateLimit is a vendor's published request limit for one scope (a QuickBooks realm, a
// GoHighLevel location, a Zoho CRM organisation). The client stays under it and the vendor's fake
// enforces it, so both read it from the vendor's package.
type RateLimit struct {
	// Requests is how many requests any window of length Per may hold; 0 publishes no such limit.
	Requests int
	Per      time.Duration
	// Concurrent is how many requests may be in flight at once; 0 publishes no such limit.
	Concurrent int
}

// IsZero says the vendor publishes no limit.
func (l RateLimit) IsZero() bool { return l == RateLimit{} }
