package connector

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// cursorPrefix versions the encoding, so a later format can tell old cursors apart.
const cursorPrefix = "v1."

// encodeCursor makes an opaque cursor: the runtime stores it and hands it back, never reads it.
func encodeCursor(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("connector: cursor of type %T does not encode: %v", v, err))
	}
	return cursorPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor of encodeCursor; an empty cursor leaves v at its zero value.
func decodeCursor(system, cursor string, v any) error {
	if cursor == "" {
		return nil
	}
	raw, ok := strings.CutPrefix(cursor, cursorPrefix)
	if ok {
		var b []byte
		if b, ok = decodeBase64(raw); ok {
			ok = json.Unmarshal(b, v) == nil
		}
	}
	if !ok {
		return fmt.Errorf("connector: %s: the cursor is not one this connector wrote; reset it to start over", system)
	}
	return nil
}

func decodeBase64(s string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return b, err == nil
}

// scanCursor is the position of the adapters that list the records changed since a time, newest
// first (cerbo, quickbooks, zoho).
//
// A scan keeps its lower bound Since fixed and walks positions (offsets or pages) until the source
// has no more; only then does the next scan start at the newest change the scan saw. Newest first
// matters: a record changed during a scan moves to the front, into pages already read, so the
// records behind it shift towards later pages and are read twice at worst, never skipped, and the
// changed record itself is newer than Max and comes in the next scan. The bound is inclusive (or
// widened by an overlap where the API's is exclusive), so the newest records of one scan are read
// again by the next: a repeat that Upsert's idempotency makes harmless, where a skip would lose a
// change.
type scanCursor struct {
	Since time.Time `json:"s,omitzero"`
	Pos   int       `json:"p,omitempty"`
	Max   time.Time `json:"m,omitzero"`
}

// next is the cursor after a page of records; step is how far the position moves (the record
// count for offsets, 1 for pages).
func (c scanCursor) next(records []Record, step int, more bool, overlap time.Duration) scanCursor {
	newest := c.Max
	for _, r := range records {
		if r.UpdatedAt.After(newest) {
			newest = r.UpdatedAt
		}
	}
	if more {
		return scanCursor{Since: c.Since, Pos: c.Pos + step, Max: newest}
	}
	if newest.IsZero() {
		return scanCursor{Since: c.Since}
	}
	since := newest.Add(-overlap)
	if since.Before(c.Since) {
		since = c.Since
	}
	return scanCursor{Since: since}
}
