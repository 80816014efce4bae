package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"

	_ "modernc.org/sqlite" // the pure-Go driver, registered as "sqlite"
)

// sqliteMigrations are applied in order, each once; the index plus one is the schema version.
var sqliteMigrations = []string{
	`CREATE TABLE mapping (
		token   BLOB PRIMARY KEY,
		version INTEGER NOT NULL,
		data    BLOB NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX mapping_version ON mapping (version, token);
	CREATE TABLE cursors (
		name  TEXT PRIMARY KEY,
		value TEXT NOT NULL
	);`,
	// AUTOINCREMENT: a sequence number is never reused, even once every delivery is deleted, so a
	// committed webhook cursor never acknowledges a later delivery.
	`CREATE TABLE deliveries (
		seq    INTEGER PRIMARY KEY AUTOINCREMENT,
		queue  TEXT NOT NULL,
		sealed TEXT NOT NULL
	);
	CREATE INDEX deliveries_queue ON deliveries (queue, seq);`,
	// Records the destination rejected, kept for replay (rejected.go).
	`CREATE TABLE rejected (
		integration TEXT NOT NULL,
		token       BLOB NOT NULL,
		version     INTEGER NOT NULL,
		data        BLOB NOT NULL,
		code        TEXT NOT NULL,
		field       TEXT NOT NULL,
		first_seen  INTEGER NOT NULL,
		last_seen   INTEGER NOT NULL,
		attempts    INTEGER NOT NULL,
		PRIMARY KEY (integration, token)
	) WITHOUT ROWID;
	CREATE INDEX rejected_version ON rejected (version, integration, token);`,
}

type sqliteStore struct {
	db *sql.DB
	sq Statements
}

// OpenSQLiteDB opens the database/sql handle of a SQLite file configured as the store uses it
// (pragmas and connection limit), without migrating it. The store opens its handle with it, and
// so does the sync benchmark's raw-driver baseline, so the two differ only in the code between
// the caller and the driver.
func OpenSQLiteDB(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: opening sqlite: %w", err)
	}
	// One connection: SQLite has one writer anyway, and a single connection makes writes queue in
	// Go instead of failing with SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	return db, nil
}

func openSQLite(ctx context.Context, path string) (*sqliteStore, error) {
	db, err := OpenSQLiteDB(path)
	if err != nil {
		return nil, err
	}
	s := &sqliteStore{db: db, sq: SQLiteStatements()}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func (s *sqliteStore) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: sqlite migration: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var current int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&current); err != nil {
		return fmt.Errorf("store: reading sqlite schema version: %w", err)
	}
	if current > len(sqliteMigrations) {
		return fmt.Errorf("store: sqlite schema version %d is newer than this binary knows (%d)", current, len(sqliteMigrations))
	}
	for i := current; i < len(sqliteMigrations); i++ {
		if _, err := tx.ExecContext(ctx, sqliteMigrations[i]); err != nil {
			return fmt.Errorf("store: sqlite migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, i+1)); err != nil {
			return fmt.Errorf("store: sqlite migration %d: %w", i+1, err)
		}
	}
	return tx.Commit()
}

func (s *sqliteStore) Get(ctx context.Context, token []byte) (Value, error) {
	var v Value
	err := s.db.QueryRowContext(ctx, s.sq.Get, token).Scan(&v.Version, &v.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return Value{}, ErrNotFound
	}
	return v, err
}

func (s *sqliteStore) Upsert(ctx context.Context, token []byte, v Value) error {
	_, err := s.db.ExecContext(ctx, s.sq.Upsert, token, v.Version, v.Data)
	return err
}

func (s *sqliteStore) Replace(ctx context.Context, oldToken, newToken []byte, v Value) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, s.sq.Delete, oldToken); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.sq.Upsert, newToken, v.Version, v.Data); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *sqliteStore) WriteRows(ctx context.Context, upserts []Row, deletes [][]byte) error {
	if len(upserts) == 0 && len(deletes) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	// Deletes first: a token both removed and written ends up written.
	del := make([][]any, len(deletes))
	for i, t := range deletes {
		del[i] = []any{t}
	}
	up := make([][]any, len(upserts))
	for i, r := range upserts {
		up[i] = []any{r.Token, r.Version, r.Data}
	}
	if err := execEach(ctx, tx, s.sq.Delete, del); err != nil {
		return err
	}
	if err := execEach(ctx, tx, s.sq.Upsert, up); err != nil {
		return err
	}
	return tx.Commit()
}

// execEach runs query in tx once per argument list, prepared once.
func execEach(ctx context.Context, tx *sql.Tx, query string, args [][]any) error {
	if len(args) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer func() { _ = stmt.Close() }()
	for _, a := range args {
		if _, err := stmt.ExecContext(ctx, a...); err != nil {
			return err
		}
	}
	return nil
}

func (s *sqliteStore) Delete(ctx context.Context, token []byte) error {
	_, err := s.db.ExecContext(ctx, s.sq.Delete, token)
	return err
}

func (s *sqliteStore) CountByVersion(ctx context.Context) (map[int32]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT version, COUNT(*) FROM mapping GROUP BY version`)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	return scanCounts(rows)
}

func (s *sqliteStore) ListByVersion(ctx context.Context, version int32, limit int) ([]Row, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT token, version, data FROM mapping WHERE version = ? ORDER BY token LIMIT ?`, version, limit)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	return scanRows(rows)
}

func (s *sqliteStore) Scan(ctx context.Context, after []byte, limit int) ([]Row, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT token, version, data FROM mapping WHERE token > ? ORDER BY token LIMIT ?`, nonNil(after), limit)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	return scanRows(rows)
}

func (s *sqliteStore) Cursor(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM cursors WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return v, err
}

func (s *sqliteStore) SetCursor(ctx context.Context, name, value string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO cursors (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	return err
}

func (s *sqliteStore) Close() error { return s.db.Close() }

func (s *sqliteStore) Cursors(ctx context.Context) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, value FROM cursors`)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	return scanCursors(rows)
}

func (s *sqliteStore) AppendDelivery(ctx context.Context, queue, sealed string) (int64, error) {
	var seq int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO deliveries (queue, sealed) VALUES (?, ?) RETURNING seq`, queue, sealed).Scan(&seq)
	return seq, err
}

func (s *sqliteStore) Deliveries(ctx context.Context, queue string, after int64, limit int) ([]Delivery, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT seq, queue, sealed FROM deliveries
		WHERE (? = '' OR queue = ?) AND seq > ? ORDER BY seq LIMIT ?`, queue, queue, after, limit)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	return scanDeliveries(rows)
}

func (s *sqliteStore) DeleteDeliveries(ctx context.Context, queue string, through int64) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM deliveries WHERE queue = ? AND seq <= ?`, queue, through)
	return err
}

func (s *sqliteStore) CountDeliveries(ctx context.Context, queue string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries WHERE queue = ?`, queue).Scan(&n)
	return n, err
}

func (s *sqliteStore) ResealDelivery(ctx context.Context, seq int64, sealed string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE deliveries SET sealed = ? WHERE seq = ?`, sealed, seq)
	return err
}
