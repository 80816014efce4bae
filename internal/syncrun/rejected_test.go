package syncrun

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/store"
)

// plantedID is a source ID that must never be found in clear at rest.
const plantedID = "cerbo-PLANTED-4711"

// sqliteAt opens a store on a file whose path the test knows, to read the file's bytes.
func sqliteAt(t *testing.T) (store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mapping.db")
	s, err := store.Open(context.Background(), "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

// rejectedRow is one row of the rejected table, read with plain SQL as anyone holding the file could.
type rejectedRow struct {
	token       []byte
	version     int32
	data        []byte
	code, field string
	attempts    int64
}

func readRejectedTable(t *testing.T, path string) []rejectedRow {
	t.Helper()
	db, err := store.OpenSQLiteDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	rows, err := db.Query(`SELECT token, version, data, code, field, attempts FROM rejected`)
	if err != nil {
		t.Fatalf("reading the rejected table: %v", err)
	}
	defer func() { _ = rows.Close() }()
	var out []rejectedRow
	for rows.Next() {
		var r rejectedRow
		if err := rows.Scan(&r.token, &r.version, &r.data, &r.code, &r.field, &r.attempts); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// assertNotInFile fails if the planted ID is anywhere in the SQLite file or its WAL.
func assertNotInFile(t *testing.T, path, planted string) {
	t.Helper()
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		b, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(planted)) {
			t.Errorf("%s holds the source ID %q in clear", filepath.Base(f), planted)
		}
	}
}

func TestRejectedRecordIsKeptByTokenAndSealedNotInClear(t *testing.T) {
	for name, batched := range map[string]bool{"one record per request": false, "batches": true} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st, path := sqliteAt(t)
			recs := patients(3)
			recs[1].ID, recs[1].PatientID, recs[1].Patient.Source.ID = plantedID, plantedID, plantedID
			mem := newMemoryDestination()
			mem.reject[plantedID] = true
			var dst connector.Destination = mem
			if batched {
				dst = &memoryBatchDestination{memoryDestination: mem, max: 30}
			}
			s := newSyncer(t, &pagedSource{records: recs, pageSize: 10, failAt: -1}, dst, st, newKeyring(t, 1, 1))
			// Rejected twice: the second cycle reads the record again (a resync).
			for range 2 {
				if err := s.commitCursor(ctx, ""); err != nil {
					t.Fatal(err)
				}
				if res, err := s.Cycle(ctx); err != nil || res.Rejected != 1 {
					t.Fatalf("Cycle = %+v, %v; want one rejection", res, err)
				}
			}
			rows := readRejectedTable(t, path)
			if len(rows) != 1 {
				t.Fatalf("rejected table holds %d rows, want 1", len(rows))
			}
			row := rows[0]
			token, err := s.Codec.Token("cerbo", plantedID)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(row.token, token.Bytes()) || row.version != token.Version {
				t.Errorf("row is not under the mapping's lookup token of the source ID")
			}
			if row.code != "ValidationFault" || row.attempts != 2 {
				t.Errorf("row code %q attempts %d, want ValidationFault and 2", row.code, row.attempts)
			}
			opened, err := s.Codec.Open(token, mappingseal.Sealed{Version: row.version, Data: row.data})
			if err != nil || opened.IDs["cerbo"] != plantedID {
				t.Errorf("the sealed value does not open to the source ID: %v", err)
			}
			if err := st.Close(); err != nil { // checkpoint nothing away: the WAL is read as it is
				t.Fatal(err)
			}
			assertNotInFile(t, path, plantedID)
		})
	}
}

func TestRejectedRecordsAreRewrappedAndUnreadableWithoutTheKeyring(t *testing.T) {
	ctx := context.Background()
	st, path := sqliteAt(t)
	k1 := newKeyring(t, 1, 2)
	recs := patients(2)
	recs[0].ID, recs[0].PatientID = plantedID, plantedID
	dst := newMemoryDestination()
	dst.reject[plantedID] = true
	s := newSyncer(t, &pagedSource{records: recs, pageSize: 10, failAt: -1}, dst, st, k1)
	if _, err := s.Cycle(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := keyring.NewMaterial(nil)
	if err != nil {
		t.Fatal(err)
	}
	k2 := keyring.Rotate(k1, k1.Algorithm, m, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), 2)
	c2 := mappingseal.Codec{Tenant: "acme", Keyring: k2}
	metrics := NewMetrics()
	// Rows: two per written patient (one), plus the cursor, plus the rejected record.
	if _, err := RewrapRetained(ctx, st, c2, metrics); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(metrics.Rewrapped); got != 4 {
		t.Errorf("rewrapped metric %v, want 4 (2 rows, the cursor, the rejected record)", got)
	}
	rows := readRejectedTable(t, path)
	if len(rows) != 1 || rows[0].version != k2.Active {
		t.Fatalf("rejected rows %+v, want one under version %d", rows, k2.Active)
	}
	// Trimming version 1 loses nothing: the record opens under the active version alone.
	c3 := mappingseal.Codec{Tenant: "acme", Keyring: keyring.Trim(k2, 0)}
	token, err := c3.Token("cerbo", plantedID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rows[0].token, token.Bytes()) {
		t.Fatal("the rewrapped row is not under the active version's token")
	}
	if _, err := c3.Open(token, mappingseal.Sealed{Version: rows[0].version, Data: rows[0].data}); err != nil {
		t.Fatalf("rewrapped rejected record does not open after the trim: %v", err)
	}
	// Crypto-shredding (the purge destroys the keyring): with other keys nothing opens.
	other := mappingseal.Codec{Tenant: "acme", Keyring: newKeyring(t, 1, 1)}
	if _, err := other.Open(token, mappingseal.Sealed{Version: rows[0].version, Data: rows[0].data}); err == nil {
		t.Fatal("a rejected record opened without its keyring")
	}
}
