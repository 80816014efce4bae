package mappingstore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/store"
	"github.com/tenantwire/tenantwire/internal/store/pgtest"
)

// backupMedium is a store whose content can be backed up and restored into a fresh store, the
// way an operator of the platform backs up the mapping.
type backupMedium struct {
	// open returns a fresh store; backup takes a copy of it; restore opens a fresh store that
	// holds the copy.
	open    func(t *testing.T) store.Store
	backup  func(t *testing.T, s store.Store) []byte
	restore func(t *testing.T, copy []byte) store.Store
	// purge empties the live store as the purge's store Job does; nil where the store goes with
	// the tenant's namespace (a SQLite file on the Integration's volume).
	purge func(t *testing.T, s store.Store)
}

func sqliteBackups() backupMedium {
	paths := map[store.Store]string{}
	openAt := func(t *testing.T, path string) store.Store {
		t.Helper()
		s, err := store.Open(context.Background(), "sqlite://"+path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		paths[s] = path
		return s
	}
	return backupMedium{
		open: func(t *testing.T) store.Store { return openAt(t, filepath.Join(t.TempDir(), "mapping.db")) },
		// A file copy of the closed database, as a volume snapshot or a file backup takes it.
		backup: func(t *testing.T, s store.Store) []byte {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(paths[s])
			if err != nil {
				t.Fatal(err)
			}
			return data
		},
		restore: func(t *testing.T, copy []byte) store.Store {
			path := filepath.Join(t.TempDir(), "restored.db")
			if err := os.WriteFile(path, copy, 0o600); err != nil {
				t.Fatal(err)
			}
			return openAt(t, path)
		},
	}
}

// postgresBackups dump the mapping table with COPY, the server's own dump of a table's rows (what
// pg_dump writes for its data), and restore it into a fresh database.
func postgresBackups(t *testing.T) backupMedium {
	t.Helper()
	if os.Getenv("STORE_SKIP_POSTGRES") == "1" {
		t.Skip("STORE_SKIP_POSTGRES=1")
	}
	ctx := context.Background()
	cluster, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatalf("PostgreSQL tests cannot run: %v", err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })
	dsns := map[store.Store]string{}
	fresh := func(t *testing.T) (store.Store, string) {
		t.Helper()
		dsn, err := cluster.NewDatabase(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		dsns[s] = dsn
		return s, dsn
	}
	copyTable := func(t *testing.T, dsn string, do func(conn *pgx.Conn) error) {
		t.Helper()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close(ctx) }()
		if err := do(conn); err != nil {
			t.Fatal(err)
		}
	}
	return backupMedium{
		open: func(t *testing.T) store.Store { s, _ := fresh(t); return s },
		backup: func(t *testing.T, s store.Store) []byte {
			var dump bytes.Buffer
			copyTable(t, dsns[s], func(conn *pgx.Conn) error {
				_, err := conn.PgConn().CopyTo(ctx, &dump, "COPY mapping TO STDOUT")
				return err
			})
			return dump.Bytes()
		},
		restore: func(t *testing.T, dump []byte) store.Store {
			s, dsn := fresh(t)
			copyTable(t, dsn, func(conn *pgx.Conn) error {
				_, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(dump), "COPY mapping FROM STDIN")
				return err
			})
			return s
		},
		purge: func(t *testing.T, s store.Store) {
			if _, err := store.PurgePostgres(ctx, dsns[s]); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// opened counts the rows of a store that a keyring opens, and all rows: a row opens with its own
// token and the key of its version, which is all a backup holds.
func opened(t *testing.T, s store.Store, c mappingseal.Codec) (open, rows int) {
	t.Helper()
	var after []byte
	for {
		page, err := s.Scan(context.Background(), after, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return open, rows
		}
		for _, row := range page {
			rows++
			tok := mappingseal.Token{Version: row.Version}
			copy(tok.Sum[:], row.Token)
			if _, err := c.Open(tok, mappingseal.Sealed{Version: row.Version, Data: row.Data}); err == nil {
				open++
			}
		}
		after = page[len(page)-1].Token
	}
}

// The purge destroys the keyring and nothing else of the mapping: copies of the rows, in
// database backups or volume snapshots, survive it. They are sealed with the tenant's keys, so a
// copy restored after the purge must open no row, whatever keyring the tenant has then. Only a
// copy of the keyring itself that outlives the purge would open them (docs/operations.md,
// "Backups").
func TestBackupRestoredAfterThePurgeOpensNoRow(t *testing.T) {
	media := map[string]func(t *testing.T) backupMedium{
		"sqlite file copy":     func(*testing.T) backupMedium { return sqliteBackups() },
		"postgresql COPY dump": postgresBackups,
	}
	for name, medium := range media {
		t.Run(name, func(t *testing.T) {
			m := medium(t)
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(18, 4))
			// Rows under two versions: a rotation whose rewrap has not run yet.
			kr := rotate(t, nil, rng, t0, 2)
			live := m.open(t)
			const patients = 40
			var ids []string
			for i := range patients {
				if i == patients/2 {
					kr = rotate(t, kr, rng, t0.Add(90*24*time.Hour), 2)
				}
				c := mappingseal.Codec{Tenant: tenant, Keyring: kr}
				id := fmt.Sprintf("cerbo-patient-%04d", i)
				ids = append(ids, id)
				put(t, live, c, mappingseal.Record{IDs: map[string]string{"cerbo": id, "quickbooks": fmt.Sprintf("qb-%04d", i)}})
			}
			if counts, err := live.CountByVersion(ctx); err != nil || len(counts) != 2 {
				t.Fatalf("rows by version = %v (%v), want rows under both versions", counts, err)
			}
			copyTaken := m.backup(t, live)
			for _, id := range ids {
				if bytes.Contains(copyTaken, []byte(id)) {
					t.Fatalf("the backup holds patient ID %s in clear", id)
				}
			}

			// A keyring copy that outlived the purge opens every row: the test can tell.
			survivor := m.restore(t, copyTaken)
			if open, rows := opened(t, survivor, mappingseal.Codec{Tenant: tenant, Keyring: kr}); rows != 2*patients || open != rows {
				t.Fatalf("with the tenant's keyring %d of %d restored rows open, want all %d", open, rows, 2*patients)
			}

			// The purge destroys every version. Afterwards the tenant can only have new keys: a
			// fresh keyring numbered from 1 again, or one started after the lost versions.
			destroyed := kr
			if m.purge != nil {
				// A PostgreSQL store is emptied too; the dump taken before keeps its rows.
				m.purge(t, live)
				if _, rows := opened(t, live, mappingseal.Codec{Tenant: tenant, Keyring: kr}); rows != 0 {
					t.Fatalf("the purged store still holds %d rows", rows)
				}
			}
			again := rotate(t, rotate(t, nil, rng, t0, 2), rng, t0, 2)
			m2, err := keyring.NewMaterial(nil)
			if err != nil {
				t.Fatal(err)
			}
			after := keyring.StartAfter(destroyed.Active, algorithm, m2, t0)
			restored := m.restore(t, copyTaken)
			for keysName, keys := range map[string]*keyring.Keyring{"a new keyring with the same version numbers": again,
				"a keyring started after the destroyed versions": after, "no keyring": nil} {
				c := mappingseal.Codec{Tenant: tenant, Keyring: keys}
				if open, rows := opened(t, restored, c); rows != 2*patients || open != 0 {
					t.Errorf("%s: %d of %d restored rows open, want 0 of %d", keysName, open, rows, 2*patients)
				}
				for _, id := range ids {
					if r, err := Lookup(ctx, restored, c, "cerbo", id); err == nil {
						t.Errorf("%s: patient %s looks up to %v", keysName, id, r)
					}
				}
			}
		})
	}
}
