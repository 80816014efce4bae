package main

import (
	"context"
	"database/sql"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantwire/tenantwire/internal/store"
)

// rawDB is the baseline: the driver running the store's own statements (store.Statements) on a
// handle configured as the store configures its own, with nothing in between. sqlRaw and pgxRaw
// look alike on purpose: each calls its driver directly, and an abstraction over the two would be
// code between the caller and the driver, which the baseline exists to leave out.
type rawDB interface {
	statements
	// populate writes rows in one transaction, to fill the table before the timing starts.
	populate(ctx context.Context, rows []patientRow) error
}

// sqlRaw is database/sql with the modernc SQLite driver.
type sqlRaw struct {
	db *sql.DB
	sq store.Statements
}

func (r sqlRaw) get(ctx context.Context, token []byte) error {
	var v store.Value
	return r.db.QueryRowContext(ctx, r.sq.Get, token).Scan(&v.Version, &v.Data)
}

func (r sqlRaw) upsert(ctx context.Context, token []byte, v store.Value) error {
	_, err := r.db.ExecContext(ctx, r.sq.Upsert, token, v.Version, v.Data)
	return err
}

func (r sqlRaw) delete(ctx context.Context, token []byte) error {
	_, err := r.db.ExecContext(ctx, r.sq.Delete, token)
	return err
}

func (r sqlRaw) populate(ctx context.Context, rows []patientRow) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, row := range rows {
		if _, err := tx.ExecContext(ctx, r.sq.Upsert, row.token, row.value.Version, row.value.Data); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// pgxRaw is a pgx pool.
type pgxRaw struct {
	pool *pgxpool.Pool
	sq   store.Statements
}

func (r pgxRaw) get(ctx context.Context, token []byte) error {
	var v store.Value
	return r.pool.QueryRow(ctx, r.sq.Get, token).Scan(&v.Version, &v.Data)
}

func (r pgxRaw) upsert(ctx context.Context, token []byte, v store.Value) error {
	_, err := r.pool.Exec(ctx, r.sq.Upsert, token, v.Version, v.Data)
	return err
}

func (r pgxRaw) delete(ctx context.Context, token []byte) error {
	_, err := r.pool.Exec(ctx, r.sq.Delete, token)
	return err
}

func (r pgxRaw) populate(ctx context.Context, rows []patientRow) error {
	return pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, row := range rows {
			b.Queue(r.sq.Upsert, row.token, row.value.Version, row.value.Data)
		}
		return tx.SendBatch(ctx, b).Close()
	})
}
