package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// SavedTokenPrefix starts the cursor name under which the runtime keeps a rotated OAuth refresh
// token (sealed); the purge counts those rows apart from the other cursors.
const SavedTokenPrefix = "oauth/"

// PurgeCounts are the rows a purge deleted, by what they held. Counts only: nothing of a row.
type PurgeCounts struct {
	MappingRows int64 `json:"mappingRows"`
	SavedTokens int64 `json:"savedTokens"`
	Cursors     int64 `json:"cursors"`
	Deliveries  int64 `json:"deliveries"`
	// RejectedRecords are records a destination refused, kept (sealed source IDs) for a replay.
	RejectedRecords int64 `json:"rejectedRecords"`
}

// PurgePostgres deletes, in one transaction, every row the mapping store holds in the PostgreSQL
// database (and search path) the DSN names: the sealed mapping rows, the cursors, the saved
// refresh tokens, the pending webhook deliveries and the rejected records kept for a replay. An Integration's store is its own database
// or schema, so this is everything the store holds for that Integration and its tenant; the
// schema version table stays. A store that was never opened (no tables) purges to zero. The DSN
// may hold a password: it is never part of an error.
func PurgePostgres(ctx context.Context, dsn string) (PurgeCounts, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return PurgeCounts{}, errors.New("store: postgres DSN does not parse")
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return PurgeCounts{}, fmt.Errorf("store: connecting to postgres: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if err := requireDurableCommit(ctx, conn); err != nil {
		return PurgeCounts{}, err
	}
	var counts PurgeCounts
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// Serialized with a migration of a replica starting at the same time.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return fmt.Errorf("store: postgres purge lock: %w", err)
		}
		for _, step := range []struct {
			table, sql string
			args       []any
			count      *int64
		}{
			{"mapping", `DELETE FROM mapping`, nil, &counts.MappingRows},
			{"cursors", `DELETE FROM cursors WHERE starts_with(name, $1)`, []any{SavedTokenPrefix}, &counts.SavedTokens},
			{"cursors", `DELETE FROM cursors`, nil, &counts.Cursors},
			{"deliveries", `DELETE FROM deliveries`, nil, &counts.Deliveries},
			{"rejected", `DELETE FROM rejected`, nil, &counts.RejectedRecords},
		} {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, step.table).Scan(&exists); err != nil {
				return fmt.Errorf("store: postgres purge of %s: %w", step.table, err)
			}
			if !exists {
				continue
			}
			tag, err := tx.Exec(ctx, step.sql, step.args...)
			if err != nil {
				return fmt.Errorf("store: postgres purge of %s: %w", step.table, err)
			}
			*step.count = tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return PurgeCounts{}, err
	}
	return counts, nil
}
