package syncrun

import (
	"context"
	"errors"
	"strings"

	"github.com/tenantwire/tenantwire/internal/store"
)

// PurgeStore runs `tenantwire purge-store`: it reads the same configuration as the sync pods and
// deletes every row of the Integration's PostgreSQL mapping store in one transaction. It needs no
// keyring: it deletes ciphertext without opening it. Only a PostgreSQL store is purged this way;
// SQLite lives on the Integration's own volume, which goes with the tenant's namespace.
func PurgeStore(ctx context.Context, configPath string) (store.PurgeCounts, error) {
	cfg, err := LoadConfig(configPath)
	if err != nil {
		return store.PurgeCounts{}, err
	}
	if !strings.HasPrefix(cfg.Store.DSN, "postgres://") && !strings.HasPrefix(cfg.Store.DSN, "postgresql://") {
		return store.PurgeCounts{}, errors.New("purge-store purges a PostgreSQL mapping store only; this Integration's store.dsn is not a postgres:// URL")
	}
	dsn, err := StoreDSN(cfg)
	if err != nil {
		return store.PurgeCounts{}, err
	}
	return store.PurgePostgres(ctx, dsn)
}
