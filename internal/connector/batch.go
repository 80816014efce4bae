package connector

import (
	"context"
	"errors"
	"fmt"
)

// UpsertAll writes a page of records: records[i] goes to destination ID ids[i] ("" creates). It
// returns the destination IDs ("" where a record was not written) and, when the destination
// rejected some records, an error joining one *RecordError per rejected record; the others are
// written all the same. An error that would fail every record (credentials, rate limit exhausted,
// transport, context) stops the batch and is returned as is.
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
