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

func (r sqlRaw) write(ctx context.Context, upserts []store.Row, deletes [][]byte) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if len(deletes) > 0 {
		del, err := tx.PrepareContext(ctx, r.sq.Delete)
		if err != nil {
			return err
		}
		defer func() { _ = del.Close() }()
		for _, t := range deletes {
			if _, err := del.ExecContext(ctx, t); err != nil {
				return err
			}
		}
	}
	up, err := tx.PrepareContext(ctx, r.sq.Upsert)
	if err != nil {
		return err
	}
	defer func() { _ = up.Close() }()
	for _, row := range upserts {
		if _, err := up.ExecContext(ctx, row.Token, row.Version, row.Data); err != nil {
			return err
		}
	}
	return tx.Commit()
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

func (r pgxRaw) write(ctx context.Context, upserts []store.Row, deletes [][]byte) error {
	b := &pgx.Batch{}
	for _, t := range deletes {
		b.Queue(r.sq.Delete, t)
	}
	for _, row := range upserts {
		b.Queue(r.sq.Upsert, row.Token, row.Version, row.Data)
	}
	return pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, b).Close()
	})
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
