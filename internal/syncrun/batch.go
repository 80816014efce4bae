package syncrun

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/mappingseal"
)

// mappingStepTimeout is what one record's mapping lookup and row add to a batch's timeout: a
// batch's write is one or two requests, its mapping work one lookup and one row per record.
// A batch of 100 is bounded by recordTimeout plus 5s, inside the pod's 30s grace period.
const mappingStepTimeout = 50 * time.Millisecond

// batchTimeout bounds the work on a batch of n records once started, as recordTimeout bounds
// one record's: the write and the mapping rows run to completion even after SIGTERM.
func batchTimeout(n int) time.Duration {
	return recordTimeout + time.Duration(n)*mappingStepTimeout
}

// batchCarry is what a page left for the next batch: fewer records than a batch takes, carried
// over so that every batch but a cycle's last is full (Cerbo pages hold 100 records, QuickBooks
// batches 30). pages holds, for each carried record, the cursor of the page it came from.
type batchCarry struct {
	records []connector.Record
	pages   []string
}

// syncBatches writes a page's records, after those carried from earlier pages, to a destination
// that takes many per request: in full batches of MaxBatch, and on the cycle's last page the rest
// too. It returns the cursor to commit: after the page when nothing is carried, else a position
// inside the page the first carried record came from (resumeCursor), so that a cycle stopped
// before writing them resumes at that record and composes the same batches as this one did: the
// same records under the same requestid, which the destination answers with what it holds. A
// resume at the page's start would put the page's written records back in front of the carried
// ones and move every later batch's boundaries, so a batch written and not mapped would go out
// again composed otherwise, under another requestid, and be created twice.
// Each batch's write is finished and its mapping rows queued on rows (writeBehind) before ctx is
// checked again, so SIGTERM stops between batches, and the records already written are found
// through the mapping next time.
func (s *Syncer) syncBatches(ctx context.Context, dest connector.BatchDestination, rows *writeBehind, carry *batchCarry, cursor string, page connector.Page, res *CycleResult) (string, error) {
	limit := max(dest.MaxBatch(), 1)
	records := append(carry.records, page.Records...)
	pages := carry.pages
	for range page.Records {
		pages = append(pages, cursor)
	}
	written := 0
	for len(records)-written >= limit || (!page.More && written < len(records)) {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n := batchLength(records[written:], limit)
		res.Read += n
		results, err := s.syncBatch(ctx, dest, rows, records[written:written+n])
		if err != nil {
			return "", err
		}
		for _, result := range results {
			s.tally(res, result)
		}
		written += n
	}
	carry.records = slices.Clone(records[written:])
	carry.pages = slices.Clone(pages[written:])
	if len(carry.records) == 0 {
		return page.Next, nil
	}
	return resumeCursor{Page: carry.pages[0], At: carry.records[0].ID}.encode(), nil
}

// resumePrefix marks a committed cursor that resumes inside a page (resumeCursor). A source's own
// cursor never begins with it (the connectors' begin with their version, "v1.").
const resumePrefix = "tenantwire-resume.v1."

// resumeCursor is a committed position inside a page: read the page at Page and begin at the
// record whose ID is At. The records before it were written and their mapping rows committed
// before this cursor was. A page that no longer holds At (the source changed in between) is
// read whole: its records are found through the mapping, and none is skipped.
type resumeCursor struct {
	Page string `json:"p"`
	At   string `json:"at"`
}

func (c resumeCursor) encode() string {
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("syncrun: resume cursor does not encode: %v", err))
	}
	return resumePrefix + base64.RawURLEncoding.EncodeToString(b)
}

// parseResumeCursor reads a committed cursor: a source's own cursor is the page to read from,
// with no record to begin at.
func parseResumeCursor(committed string) (resumeCursor, error) {
	raw, ok := strings.CutPrefix(committed, resumePrefix)
	if !ok {
		return resumeCursor{Page: committed}, nil
	}
	var c resumeCursor
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil {
		return resumeCursor{}, errors.New("the committed cursor is a resume position that does not parse")
	}
	return c, nil
}

// begin drops the records of the resumed page before the one at c.At, when the page holds it.
func (c resumeCursor) begin(records []connector.Record) []connector.Record {
	if c.At == "" {
		return records
	}
	if i := slices.IndexFunc(records, func(r connector.Record) bool { return r.ID == c.At }); i >= 0 {
		return records[i:]
	}
	return records
}

// batchLength is how many of records go in the next batch: at most limit, and never two records
// of one patient, whose second write must find the first one's mapping row (two creates in one
// batch would make two destination records).
func batchLength(records []connector.Record, limit int) int {
	seen := map[string]bool{}
	for i, rec := range records {
		if i == limit || seen[patientOf(rec)] {
			return i
		}
		seen[patientOf(rec)] = true
	}
	return len(records)
}

// syncBatch writes one batch: every record's mapping lookup, one UpsertBatch, then the mapping
// rows of the records written, queued on rows to be committed in one transaction while the next
// batch goes out. A crash between the write and the rows leaves records the destination holds and
// the mapping does not; the next cycle reads the same page, builds the same batch with the same
// idempotency keys, and the destination's own deduplication answers with the records it already
// holds (QuickBooks: the batch's requestid, derived from every record's key and content; Zoho
// CRM: the duplicate check on Email). QuickBooks' requestid does not depend on which of the
// batch's records the mapping knows. It runs detached from ctx's cancellation (see batchTimeout).
func (s *Syncer) syncBatch(parent context.Context, dest connector.BatchDestination, rows *writeBehind, batch []connector.Record) ([]string, error) {
	patients := make([]string, len(batch))
	for i, rec := range batch {
		patients[i] = patientOf(rec)
	}
	// A patient of the previous batch is looked up once its row is there.
	if err := rows.before(patients); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), batchTimeout(len(batch)))
	defer cancel()
	known := make([]mappingseal.Record, len(batch))
	destIDs := make([]string, len(batch))
	authorized := make([]connector.Record, len(batch))
	for i, rec := range batch {
		var err error
		if known[i], err = s.lookup(ctx, patients[i]); err != nil {
			return nil, err
		}
		destIDs[i] = known[i].IDs[s.DestSystem]
		authorized[i] = s.authorized(rec)
		// Every record of a batch carries its key, creates and updates alike: a batch retried
		// after a crash between its write and its mapping rows has the same records, but the
		// mapping may know some of them by then.
		if authorized[i].IdempotencyKey, err = s.idempotencyKey(patients[i]); err != nil {
			return nil, err
		}
	}
	written, err := dest.UpsertBatch(ctx, destIDs, authorized)
	if err == nil && len(written) != len(batch) {
		err = fmt.Errorf("%d results for %d records", len(written), len(batch))
	}
	if err != nil {
		return nil, s.fail(failureReason(reasonDestination, err), fmt.Errorf("writing a batch of %d records to %s: %w", len(batch), s.DestSystem, err))
	}
	results := make([]string, len(batch))
	var mapped []mappingseal.Record
	var failed error
	for i, w := range written {
		switch {
		case connector.IsRejected(w.Err):
			var err error
			if results[i], err = s.rejected(ctx, patients[i], w.Err); err != nil && failed == nil {
				failed = err
			}
		case w.Err != nil:
			if failed == nil {
				failed = s.fail(failureReason(reasonDestination, w.Err), fmt.Errorf("writing to %s: %w", s.DestSystem, w.Err))
			}
		default:
			var row *mappingseal.Record
			if results[i], row = s.mapped(known[i], patients[i], destIDs[i], w.ID); row != nil {
				mapped = append(mapped, *row)
			}
		}
	}
	// The rows of what was written are recorded even when another record of the batch failed.
	if len(mapped) > 0 {
		if err := rows.rows(patients, func() error {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), batchTimeout(len(mapped)))
			defer cancel()
			return s.putRows(ctx, mapped)
		}); err != nil {
			return nil, err
		}
	}
	if failed != nil {
		return nil, failed
	}
	return results, nil
}
