package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// postgresMigrations are applied in order, each once, recorded in tenantwire_schema.
var postgresMigrations = []string{
	`CREATE TABLE mapping (
		token   BYTEA PRIMARY KEY,
		version INTEGER NOT NULL,
		data    BYTEA NOT NULL
	);
	CREATE INDEX mapping_version ON mapping (version, token);
	CREATE TABLE cursors (
		name  TEXT PRIMARY KEY,
		value TEXT NOT NULL
	);`,
	// A sequence never hands out a number twice, so a committed webhook cursor never acknowledges
	// a later delivery.
	`CREATE TABLE deliveries (
		seq    BIGSERIAL PRIMARY KEY,
		queue  TEXT NOT NULL,
		sealed TEXT NOT NULL
	);
	CREATE INDEX deliveries_queue ON deliveries (queue, seq);`,
	// Records the destination rejected, kept for replay (rejected.go).
	`CREATE TABLE rejected (
		integration TEXT NOT NULL,
		token       BYTEA NOT NULL,
		version     INTEGER NOT NULL,
		data        BYTEA NOT NULL,
		code        TEXT NOT NULL,
		field       TEXT NOT NULL,
		first_seen  BIGINT NOT NULL,
		last_seen   BIGINT NOT NULL,
		attempts    BIGINT NOT NULL,
		PRIMARY KEY (integration, token)
	);
	CREATE INDEX rejected_version ON rejected (version, integration, token);`,
}

// migrationLock is the advisory lock key that serializes migrations of replicas starting at once.
const migrationLock = 0x74656e616e74 // "tenant"

type postgresStore struct {
	pool *pgxpool.Pool
	sq   Statements
}

func openPostgres(ctx context.Context, dsn string) (*postgresStore, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx errors can quote the DSN, password included: say only that it did not parse.
		return nil, errors.New("store: postgres DSN does not parse")
	}
	cfg.AfterConnect = requireDurableCommit
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connecting to postgres: %w", err)
	}
	s := &postgresStore{pool: pool, sq: PostgresStatements()}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// requireDurableCommit makes every commit of the session durable before PostgreSQL acknowledges
// it. The sync relies on that: once a batch's mapping rows (or a cursor, or an acknowledged
// webhook delivery) are committed it moves on, and the next batches are composed and sent on the
// strength of them. A server (or a role, a database, the DSN's options) set to
// synchronous_commit=off acknowledges a commit before its WAL is flushed, and a crash then loses
// the last commits: the mapping forgets patients the destination already holds, the cursor goes
// back, and the replay composes other batches under other requestids, which the destination
// takes for new customers. Only off is raised (to local, which waits for the local WAL flush), so
// a stronger setting (on, remote_write, remote_apply) is kept as the server has it.
func requireDurableCommit(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, `SELECT set_config('synchronous_commit', 'local', false) WHERE current_setting('synchronous_commit') = 'off'`); err != nil {
		return fmt.Errorf("store: requiring durable commits on postgres: %w", err)
	}
	return nil
}

func (s *postgresStore) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return fmt.Errorf("store: postgres migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS tenantwire_schema (version INTEGER NOT NULL)`); err != nil {
			return fmt.Errorf("store: postgres schema table: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM tenantwire_schema`).Scan(&current); err != nil {
			return fmt.Errorf("store: reading postgres schema version: %w", err)
		}
		if current > len(postgresMigrations) {
			return fmt.Errorf("store: postgres schema version %d is newer than this binary knows (%d)", current, len(postgresMigrations))
		}
		for i := current; i < len(postgresMigrations); i++ {
			if _, err := tx.Exec(ctx, postgresMigrations[i]); err != nil {
				return fmt.Errorf("store: postgres migration %d: %w", i+1, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO tenantwire_schema (version) VALUES ($1)`, i+1); err != nil {
				return fmt.Errorf("store: postgres migration %d: %w", i+1, err)
			}
		}
		return nil
	})
}

func (s *postgresStore) Get(ctx context.Context, token []byte) (Value, error) {
	var v Value
	err := s.pool.QueryRow(ctx, s.sq.Get, token).Scan(&v.Version, &v.Data)
	if errors.Is(err, pgx.ErrNoRows) {
		return Value{}, ErrNotFound
	}
	return v, err
}

func (s *postgresStore) Upsert(ctx context.Context, token []byte, v Value) error {
	_, err := s.pool.Exec(ctx, s.sq.Upsert, token, v.Version, v.Data)
	return err
}

func (s *postgresStore) Replace(ctx context.Context, oldToken, newToken []byte, v Value) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, s.sq.Delete, oldToken); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, s.sq.Upsert, newToken, v.Version, v.Data)
		return err
	})
}

func (s *postgresStore) WriteRows(ctx context.Context, upserts []Row, deletes [][]byte) error {
	if len(upserts) == 0 && len(deletes) == 0 {
		return nil
	}
	// One transaction sent as one pipelined batch: one round trip for the whole write.
	b := &pgx.Batch{}
	// Deletes first: a token both removed and written ends up written.
	for _, t := range deletes {
		b.Queue(s.sq.Delete, t)
	}
	for _, r := range upserts {
		b.Queue(s.sq.Upsert, r.Token, r.Version, r.Data)
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, b).Close()
	})
}

func (s *postgresStore) Delete(ctx context.Context, token []byte) error {
	_, err := s.pool.Exec(ctx, s.sq.Delete, token)
	return err
}

func (s *postgresStore) CountByVersion(ctx context.Context) (map[int32]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT version, COUNT(*) FROM mapping GROUP BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanCounts(rows)
}

func (s *postgresStore) ListByVersion(ctx context.Context, version int32, limit int) ([]Row, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT token, version, data FROM mapping WHERE version = $1 ORDER BY token LIMIT $2`, version, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanRows(rows)
}

func (s *postgresStore) Scan(ctx context.Context, after []byte, limit int) ([]Row, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT token, version, data FROM mapping WHERE token > $1 ORDER BY token LIMIT $2`, nonNil(after), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanRows(rows)
}

func (s *postgresStore) Cursor(ctx context.Context, name string) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM cursors WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	return v, err
}

func (s *postgresStore) SetCursor(ctx context.Context, name, value string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO cursors (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	return err
}

func (s *postgresStore) Close() error {
	s.pool.Close()
	return nil
}

func (s *postgresStore) Cursors(ctx context.Context) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, value FROM cursors`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanCursors(rows)
}

func (s *postgresStore) AppendDelivery(ctx context.Context, queue, sealed string) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `INSERT INTO deliveries (queue, sealed) VALUES ($1, $2) RETURNING seq`, queue, sealed).Scan(&seq)
	return seq, err
}

func (s *postgresStore) Deliveries(ctx context.Context, queue string, after int64, limit int) ([]Delivery, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, queue, sealed FROM deliveries
		WHERE ($1 = '' OR queue = $1) AND seq > $2 ORDER BY seq LIMIT $3`, queue, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanDeliveries(rows)
}

func (s *postgresStore) DeleteDeliveries(ctx context.Context, queue string, through int64) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM deliveries WHERE queue = $1 AND seq <= $2`, queue, through)
	return err
}

func (s *postgresStore) CountDeliveries(ctx context.Context, queue string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM deliveries WHERE queue = $1`, queue).Scan(&n)
	return n, err
}

func (s *postgresStore) ResealDelivery(ctx context.Context, seq int64, sealed string) error {
	_, err := s.pool.Exec(ctx, `UPDATE deliveries SET sealed = $1 WHERE seq = $2`, sealed, seq)
	return err
}
