package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Rejected is a record the destination refused for good, kept so that it can be replayed once
// the cause is fixed. It is found, like a mapping row, by the lookup token of the record's source
// ID, and holds that ID only sealed; besides it the row says why (the vendor's error code and the
// field it named, never a value), when and how often. The caller seals; the store sees no ID.
type Rejected struct {
	// Integration keys the row with Token, so several Integrations can share a PostgreSQL store.
	Integration string
	Token       []byte
	// Value is the sealed source ID, under the key version of Token.
	Value
	Code, Field         string
	FirstSeen, LastSeen time.Time
	// Attempts counts the writes the destination rejected.
	Attempts int64
}

// rejectedColumns is the column list every rejected-row query reads, in scanRejected's order.
const rejectedColumns = `integration, token, version, data, code, field, first_seen, last_seen, attempts`

// scanRejected reads rows of rejectedColumns.
func scanRejected(r rows) ([]Rejected, error) {
	var out []Rejected
	for r.Next() {
		var x Rejected
		var first, last int64
		if err := r.Scan(&x.Integration, &x.Token, &x.Version, &x.Data, &x.Code, &x.Field, &first, &last, &x.Attempts); err != nil {
			return nil, err
		}
		x.FirstSeen, x.LastSeen = time.Unix(first, 0).UTC(), time.Unix(last, 0).UTC()
		out = append(out, x)
	}
	return out, r.Err()
}

// The statements are the same for both backends but for their placeholders.
const (
	sqlPutRejected = `INSERT INTO rejected (` + rejectedColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)
	ON CONFLICT (integration, token) DO UPDATE SET version = excluded.version, data = excluded.data,
		code = excluded.code, field = excluded.field, last_seen = excluded.last_seen, attempts = rejected.attempts + 1`
	pgPutRejected = `INSERT INTO rejected (` + rejectedColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1)
	ON CONFLICT (integration, token) DO UPDATE SET version = excluded.version, data = excluded.data,
		code = excluded.code, field = excluded.field, last_seen = excluded.last_seen, attempts = rejected.attempts + 1`
)

func (s *sqliteStore) PutRejected(ctx context.Context, r Rejected) error {
	_, err := s.db.ExecContext(ctx, sqlPutRejected, r.Integration, r.Token, r.Version, r.Data, r.Code, r.Field, r.LastSeen.Unix(), r.LastSeen.Unix())
	return err
}

func (s *sqliteStore) ListRejected(ctx context.Context, integration string, after []byte, limit int) ([]Rejected, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+rejectedColumns+` FROM rejected
		WHERE integration = ? AND token > ? ORDER BY token LIMIT ?`, integration, nonNil(after), limit)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	return scanRejected(rows)
}

func (s *sqliteStore) ListRejectedByVersion(ctx context.Context, version int32, limit int) ([]Rejected, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+rejectedColumns+` FROM rejected
		WHERE version = ? ORDER BY integration, token LIMIT ?`, version, limit)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	return scanRejected(rows)
}

func (s *sqliteStore) MoveRejected(ctx context.Context, integration string, oldToken, newToken []byte, v Value) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `UPDATE rejected SET token = ?, version = ?, data = ?
		WHERE integration = ? AND token = ? AND NOT EXISTS (SELECT 1 FROM rejected WHERE integration = ? AND token = ?)`,
		newToken, v.Version, v.Data, integration, oldToken, integration, newToken); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM rejected WHERE integration = ? AND token = ? AND version <> ?`, integration, oldToken, v.Version); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *sqliteStore) DeleteRejected(ctx context.Context, integration string, token []byte) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM rejected WHERE integration = ? AND token = ?`, integration, token)
	return err
}

func (s *sqliteStore) CountRejected(ctx context.Context, integration string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM rejected WHERE integration = ?`, integration).Scan(&n)
	return n, err
}

func (s *sqliteStore) CountRejectedByVersion(ctx context.Context) (map[int32]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT version, COUNT(*) FROM rejected GROUP BY version`)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	return scanCounts(rows)
}

func (s *postgresStore) PutRejected(ctx context.Context, r Rejected) error {
	_, err := s.pool.Exec(ctx, pgPutRejected, r.Integration, r.Token, r.Version, r.Data, r.Code, r.Field, r.LastSeen.Unix(), r.LastSeen.Unix())
	return err
}

func (s *postgresStore) ListRejected(ctx context.Context, integration string, after []byte, limit int) ([]Rejected, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+rejectedColumns+` FROM rejected
		WHERE integration = $1 AND token > $2 ORDER BY token LIMIT $3`, integration, nonNil(after), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanRejected(rows)
}

func (s *postgresStore) ListRejectedByVersion(ctx context.Context, version int32, limit int) ([]Rejected, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+rejectedColumns+` FROM rejected
		WHERE version = $1 ORDER BY integration, token LIMIT $2`, version, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanRejected(rows)
}

func (s *postgresStore) MoveRejected(ctx context.Context, integration string, oldToken, newToken []byte, v Value) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE rejected SET token = $1, version = $2, data = $3
			WHERE integration = $4 AND token = $5 AND NOT EXISTS (SELECT 1 FROM rejected WHERE integration = $4 AND token = $1)`,
			newToken, v.Version, v.Data, integration, oldToken); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM rejected WHERE integration = $1 AND token = $2 AND version <> $3`, integration, oldToken, v.Version)
		return err
	})
}

func (s *postgresStore) DeleteRejected(ctx context.Context, integration string, token []byte) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM rejected WHERE integration = $1 AND token = $2`, integration, token)
	return err
}

func (s *postgresStore) CountRejected(ctx context.Context, integration string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM rejected WHERE integration = $1`, integration).Scan(&n)
	return n, err
}

func (s *postgresStore) CountRejectedByVersion(ctx context.Context) (map[int32]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT version, COUNT(*) FROM rejected GROUP BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanCounts(rows)
}
