package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tenantwire/tenantwire/internal/store"
	"github.com/tenantwire/tenantwire/internal/store/pgtest"
)

const (
	backendSQLite   = "sqlite"
	backendPostgres = "postgres"
)

// database is one database opened twice, through the store and through the raw driver, so both
// run on the same table.
type database struct {
	store  store.Store
	raw    rawDB
	server string // the engine and its version, for the report
	close  func() error
}

// openSQLite creates a SQLite file in a temporary directory that close removes.
func openSQLite(ctx context.Context) (*database, error) {
	dir, err := os.MkdirTemp("", "tenantwire-benchsync-")
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "mapping.db")
	db := &database{close: func() error { return os.RemoveAll(dir) }}
	if db.store, err = store.Open(ctx, "sqlite://"+file); err != nil {
		return nil, errors.Join(err, db.close())
	}
	sqlDB, err := store.OpenSQLiteDB(file)
	if err != nil {
		return nil, errors.Join(err, db.store.Close(), db.close())
	}
	db.raw = sqlRaw{db: sqlDB, sq: store.SQLiteStatements()}
	removeDir := db.close
	db.close = func() error { return errors.Join(sqlDB.Close(), db.store.Close(), removeDir()) }
	var version string
	if err := sqlDB.QueryRowContext(ctx, `SELECT sqlite_version()`).Scan(&version); err != nil {
		return nil, errors.Join(err, db.close())
	}
	db.server = "SQLite " + version
	return db, nil
}

// openPostgres opens the database dsn names, which must hold no mapping rows: the benchmark's
// rows stay in it.
func openPostgres(ctx context.Context, dsn string) (*database, error) {
	s, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	counts, err := s.CountByVersion(ctx)
	if err == nil && len(counts) > 0 {
		err = errors.New("the database already holds mapping rows; give the benchmark an empty database")
	}
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	// The same pool configuration as the store's: the DSN's, with pgx's defaults.
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	db := &database{store: s, raw: pgxRaw{pool: pool, sq: store.PostgresStatements()}}
	db.close = func() error { pool.Close(); return s.Close() }
	var version string
	if err := pool.QueryRow(ctx, `SHOW server_version`).Scan(&version); err != nil {
		return nil, errors.Join(err, db.close())
	}
	db.server = fmt.Sprintf("PostgreSQL %s (pool of %d connections)", version, cfg.MaxConns)
	return db, nil
}

// throwawayPostgres starts a pgtest cluster and returns a fresh database in it and the cluster's
// stop function.
func throwawayPostgres(ctx context.Context) (dsn string, stop func() error, err error) {
	cluster, err := pgtest.Start(ctx)
	if err != nil {
		return "", nil, err
	}
	dsn, err = cluster.NewDatabase(ctx)
	if err != nil {
		return "", nil, errors.Join(err, cluster.Stop())
	}
	return dsn, cluster.Stop, nil
}
