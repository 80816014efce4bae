package zoho

import "github.com/tenantwire/tenantwire/internal/connector/contract"

// RateLimit is what Zoho CRM publishes of its limits that a client can pace itself by: no
// per-minute rate (API credits are counted per organisation over a rolling 24 hours, by edition
// and licences), and a sub-concurrency limit of 10 in-flight insert, update or upsert calls of more
// than 10 records, the same in every edition ("Kaizen #93: Credit Calculation and Concurrency in
// Zoho CRM APIs", Zoho CRM developer community). Past it Zoho answers 429.
var RateLimit = contract.RateLimit{Concurrent: 10}
