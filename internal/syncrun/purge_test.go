package syncrun

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// purge-store deletes PostgreSQL rows only: a SQLite store lives on the Integration's volume,
// which goes with the namespace, and must not be touched (or half-purged) by the Job.
func TestPurgeStoreRefusesAStoreThatIsNotPostgreSQL(t *testing.T) {
	configPath := exportFixture(t, patients(3))
	_, err := PurgeStore(context.Background(), configPath)
	if err == nil || !strings.Contains(err.Error(), "PostgreSQL mapping store only") {
		t.Fatalf("err = %v, want the refusal of a store that is not PostgreSQL", err)
	}
	cfg, err := LoadConfig(configPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cfg.StateDir, "mapping.db")); err != nil {
		t.Errorf("the SQLite store is gone: %v", err)
	}
}
