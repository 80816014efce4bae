package connector

import (
	"context"
	"errors"
	"fmt"
)

// UpsertAll writes a page of records as the runtime's cycle does (internal/syncrun), so the
// adapters' tests can check which errors concern one record (a *RecordError each, the others
// written all the same) and which stop the batch (credentials, rate limit exhausted, transport,
// context). records[i] goes to destination ID ids[i] ("" creates); the result holds the
// destination IDs, "" where a record was not written.
func UpsertAll(ctx context.Context, d Destination, ids []string, records []Record) ([]string, error) {
	if len(ids) != len(records) {
		return nil, fmt.Errorf("connector: UpsertAll got %d IDs for %d records", len(ids), len(records))
	}
	written := make([]string, len(records))
	var rejected []error
	for i, r := range records {
		id, err := d.Upsert(ctx, ids[i], r)
		switch {
		case err == nil:
			written[i] = id
		case isRecordRejection(err):
			rejected = append(rejected, &RecordError{Index: i, SourceID: r.ID, Err: err})
		default:
			return written, err
		}
	}
	return written, errors.Join(rejected...)
}

// RecordError is a rejection of one record of a batch; the other records were written.
type RecordError struct {
	// Index is the record's position in the batch. SourceID is its ID in the source system, for
	// the runtime to act on; the message leaves it out because a patient's ID is not for logs.
	Index    int
	SourceID string
	Err      error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("record %d of the batch rejected: %v", e.Index, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }
