// Package store keeps the sync runtime's data at rest: the sealed patient-ID mapping (rows found by
// an opaque lookup token, holding a key version and ciphertext), the sealed sync cursors and saved
// tokens, the sealed webhook deliveries received but not yet synced, and the records the
// destination rejected (by lookup token, their source ID sealed), kept for replay. It sees no
// key material and no plaintext; internal/mappingseal produces what it stores.
//
// Two implementations share one schema and one conformance suite: SQLite (pure Go, a file on the
// integration's state volume, WAL mode) and PostgreSQL (pgx). Open chooses by DSN.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound means no row or cursor has that key.
var ErrNotFound = errors.New("store: not found")

// Value is a sealed mapping value: the key version and the nonce plus ciphertext.
type Value struct {
	Version int32
	Data    []byte
}

// Row is a mapping row.
type Row struct {
	Token []byte
	Value
}

// Delivery is a received webhook delivery waiting for the sync, sealed by the caller.
type Delivery struct {
	Seq    int64
	Queue  string
	Sealed string
}

// Store is the mapping, cursor and delivery storage of one tenant's sync runtime. Implementations are safe for
// concurrent use.
type Store interface {
	// Get returns the value under token, or ErrNotFound.
	Get(ctx context.Context, token []byte) (Value, error)
	// Upsert writes the value under token, replacing any value there.
	Upsert(ctx context.Context, token []byte, v Value) error
	// Replace atomically removes the row under oldToken and writes v under newToken; the rewrap
	// uses it to move a row onto the active key version's token. oldToken may equal newToken.
	Replace(ctx context.Context, oldToken, newToken []byte, v Value) error
	// Delete removes the row under token; a missing row is not an error.
	Delete(ctx context.Context, token []byte) error
	// WriteRows writes every row of upserts (replacing any value under its token) and removes
	// every token of deletes, in one transaction: all of it is committed or none. A batch's
	// mapping rows are one call, so a batch costs one commit rather than one per statement.
	WriteRows(ctx context.Context, upserts []Row, deletes [][]byte) error
	// CountByVersion counts rows by key version (versions without rows are absent).
	CountByVersion(ctx context.Context) (map[int32]int64, error)
	// ListByVersion returns up to limit rows of a key version, ordered by token.
	ListByVersion(ctx context.Context, version int32, limit int) ([]Row, error)
	// Scan returns up to limit rows of any version whose token sorts after after (nil: from the
	// start), ordered by token; the export pages through the whole mapping with it.
	Scan(ctx context.Context, after []byte, limit int) ([]Row, error)
	// Cursor returns the named sync cursor, or ErrNotFound.
	Cursor(ctx context.Context, name string) (string, error)
	// SetCursor writes the named sync cursor.
	SetCursor(ctx context.Context, name, value string) error
	// Cursors returns every cursor by name; the rewrap reseals them onto the active key version.
	Cursors(ctx context.Context) (map[string]string, error)

	// AppendDelivery adds a received delivery (sealed by the caller) at the end of a queue and
	// returns its sequence number once it is committed. Sequence numbers only grow, across queues
	// and restarts.
	AppendDelivery(ctx context.Context, queue, sealed string) (int64, error)
	// Deliveries returns up to limit deliveries of a queue ("": of every queue) whose sequence
	// number is above after, in sequence order.
	Deliveries(ctx context.Context, queue string, after int64, limit int) ([]Delivery, error)
	// DeleteDeliveries removes a queue's deliveries up to and including through.
	DeleteDeliveries(ctx context.Context, queue string, through int64) error
	// CountDeliveries counts a queue's deliveries.
	CountDeliveries(ctx context.Context, queue string) (int64, error)
	// ResealDelivery replaces the sealed value of a delivery in place (the rewrap); a delivery
	// deleted meanwhile is not an error.
	ResealDelivery(ctx context.Context, seq int64, sealed string) error

	// PutRejected keeps a record the destination rejected (r.LastSeen is when): a new row with
	// one attempt, or the existing row under (r.Integration, r.Token) with its value, code, field
	// and last-seen time replaced and one attempt more.
	PutRejected(ctx context.Context, r Rejected) error
	// ListRejected returns up to limit rejected rows of an integration whose token sorts after
	// after (nil: from the start), ordered by token; the replay pages through them with it.
	ListRejected(ctx context.Context, integration string, after []byte, limit int) ([]Rejected, error)
	// ListRejectedByVersion returns up to limit rejected rows of a key version, of every
	// integration; the rewrap moves them onto the active version with it.
	ListRejectedByVersion(ctx context.Context, version int32, limit int) ([]Rejected, error)
	// MoveRejected moves a rejected row onto newToken with the sealed value v (of another key
	// version), keeping its code, times and attempts; when a row under newToken exists already
	// (the record was rejected again since the rotation), it is newer and the old row is dropped.
	MoveRejected(ctx context.Context, integration string, oldToken, newToken []byte, v Value) error
	// DeleteRejected removes a rejected row; a missing row is not an error.
	DeleteRejected(ctx context.Context, integration string, token []byte) error
	// CountRejected counts an integration's rejected rows: the records pending replay.
	CountRejected(ctx context.Context, integration string) (int64, error)
	// CountRejectedByVersion counts rejected rows by key version (versions without rows are absent).
	CountRejectedByVersion(ctx context.Context) (map[int32]int64, error)

	// Close releases the store.
	Close() error
}

// Open opens (and creates or migrates) the store a DSN names: sqlite:///path/to/file.db, or a
// postgres:// or postgresql:// URL. Errors do not repeat the DSN, which may hold a password.
func Open(ctx context.Context, dsn string) (Store, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite://"):
		path := strings.TrimPrefix(dsn, "sqlite://")
		if path == "" {
			return nil, errors.New("store: sqlite DSN has no file path")
		}
		return openSQLite(ctx, path)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return openPostgres(ctx, dsn)
	default:
		scheme, _, _ := strings.Cut(dsn, ":")
		if len(scheme) > 16 {
			scheme = scheme[:16]
		}
		return nil, fmt.Errorf("store: unsupported DSN scheme %q (want sqlite:// or postgres://)", scheme)
	}
}

func checkLimit(limit int) error {
	if limit <= 0 {
		return fmt.Errorf("store: limit must be positive, got %d", limit)
	}
	return nil
}

// nonNil makes "from the start" an empty token, which sorts before every token: a NULL would
// compare as unknown and match nothing.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
