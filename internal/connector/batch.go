package connector

import "context"

// BatchDestination is a Destination that writes many records in one request, for vendors whose
// published limits make one request per record the bottleneck (Zoho CRM takes 100 records per
// upsert). It is optional: a runtime that finds it may use it, and Upsert stays the one-record
// path with the same semantics.
type BatchDestination interface {
	Destination
	// MaxBatch is the most records one UpsertBatch call takes.
	MaxBatch() int
	// UpsertBatch writes records[i] under destination ID ids[i] ("" creates) and returns one
	// result per record, in order. A record the destination refused carries the refusal in its
	// result (IsRejected holds for it) while the others are written. An error return means no
	// record's outcome is known (credentials, rate limit exhausted, transport, context): the batch
	// may be sent again, which writes nothing twice because every write is an upsert.
	UpsertBatch(ctx context.Context, ids []string, records []Record) ([]BatchResult, error)
}

// BatchResult is one record's outcome in UpsertBatch.
type BatchResult struct {
	// ID is the destination's ID of the record; "" when it was not written.
	ID string
	// Err is the record's own refusal, nil when it was written.
	Err error
}
