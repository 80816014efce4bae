package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/store/pgtest"
)

// cluster is the PostgreSQL cluster of this test binary, started once by TestMain.
var (
	cluster    *pgtest.Cluster
	clusterErr error
)

func TestMain(m *testing.M) {
	if os.Getenv("STORE_SKIP_POSTGRES") != "1" {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cluster, clusterErr = pgtest.Start(ctx)
		cancel()
		if clusterErr == nil {
			fmt.Fprintf(os.Stderr, "store: PostgreSQL test cluster started in %s\n", time.Since(start).Round(time.Millisecond))
		}
	}
	code := m.Run()
	if cluster != nil {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// backends open a fresh, empty store of each implementation and return its DSN, so a test can
// open it again.
var backends = map[string]func(t *testing.T) string{
	"sqlite": func(t *testing.T) string {
		return "sqlite://" + filepath.Join(t.TempDir(), "mapping.db")
	},
	"postgres": func(t *testing.T) string {
		if os.Getenv("STORE_SKIP_POSTGRES") == "1" {
			t.Skip("STORE_SKIP_POSTGRES=1")
		}
		if clusterErr != nil {
			t.Fatalf("PostgreSQL tests cannot run: %v", clusterErr)
		}
		dsn, err := cluster.NewDatabase(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return dsn
	},
}

func openStore(t *testing.T, dsn string) Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func tok(i int) []byte { return []byte(fmt.Sprintf("\x00token-%03d\xff", i)) }

func val(version int32, s string) Value { return Value{Version: version, Data: []byte(s)} }

// TestConformance runs one suite against every implementation.
func TestConformance(t *testing.T) {
	for name, newDSN := range backends {
		t.Run(name, func(t *testing.T) {
			for caseName, tc := range conformance {
				t.Run(caseName, func(t *testing.T) {
					dsn := newDSN(t)
					tc(t, dsn, openStore(t, dsn))
				})
			}
		})
	}
}

var conformance = map[string]func(t *testing.T, dsn string, s Store){
	"get missing": func(t *testing.T, _ string, s Store) {
		if _, err := s.Get(context.Background(), tok(1)); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get of a missing token = %v, want ErrNotFound", err)
		}
	},
	"upsert inserts then replaces": func(t *testing.T, _ string, s Store) {
		ctx := context.Background()
		mustUpsert(t, s, tok(1), val(1, "first"))
		mustGet(t, s, tok(1), val(1, "first"))
		mustUpsert(t, s, tok(1), val(2, "second"))
		mustGet(t, s, tok(1), val(2, "second"))
		if counts, _ := s.CountByVersion(ctx); len(counts) != 1 || counts[2] != 1 {
			t.Errorf("CountByVersion = %v, want one row at version 2", counts)
		}
	},
	"tokens are compared as bytes": func(t *testing.T, _ string, s Store) {
		mustUpsert(t, s, []byte{0, 1}, val(1, "a"))
		mustUpsert(t, s, []byte{0, 1, 0}, val(1, "b"))
		mustGet(t, s, []byte{0, 1}, val(1, "a"))
		mustGet(t, s, []byte{0, 1, 0}, val(1, "b"))
	},
	"replace moves a row atomically": func(t *testing.T, _ string, s Store) {
		ctx := context.Background()
		mustUpsert(t, s, tok(1), val(1, "old"))
		if err := s.Replace(ctx, tok(1), tok(2), val(2, "new")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, tok(1)); !errors.Is(err, ErrNotFound) {
			t.Errorf("old token still present: %v", err)
		}
		mustGet(t, s, tok(2), val(2, "new"))
		if err := s.Replace(ctx, tok(2), tok(2), val(3, "same row")); err != nil {
			t.Fatal(err)
		}
		mustGet(t, s, tok(2), val(3, "same row"))
	},
	"write rows upserts and deletes in one call": func(t *testing.T, _ string, s Store) {
		ctx := context.Background()
		mustUpsert(t, s, tok(1), val(1, "old"))
		mustUpsert(t, s, tok(2), val(1, "kept"))
		if err := s.WriteRows(ctx, []Row{{Token: tok(3), Value: val(2, "new")}, {Token: tok(2), Value: val(2, "replaced")}}, [][]byte{tok(1), tok(9)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, tok(1)); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted row still present: %v", err)
		}
		mustGet(t, s, tok(2), val(2, "replaced"))
		mustGet(t, s, tok(3), val(2, "new"))
		if err := s.WriteRows(ctx, nil, nil); err != nil {
			t.Errorf("an empty write: %v", err)
		}
	},
	"write rows is all or nothing": func(t *testing.T, _ string, s Store) {
		ctx := context.Background()
		// The second row's data is NULL, which the schema refuses: the first must not stay.
		if err := s.WriteRows(ctx, []Row{{Token: tok(1), Value: val(1, "a")}, {Token: tok(2), Value: Value{Version: 1}}}, nil); err == nil {
			t.Fatal("a row without data was written")
		}
		if _, err := s.Get(ctx, tok(1)); !errors.Is(err, ErrNotFound) {
			t.Errorf("a failed write left a row behind: %v", err)
		}
	},
	"delete": func(t *testing.T, _ string, s Store) {
		ctx := context.Background()
		mustUpsert(t, s, tok(1), val(1, "x"))
		if err := s.Delete(ctx, tok(1)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, tok(1)); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted row still present: %v", err)
		}
		if err := s.Delete(ctx, tok(1)); err != nil {
			t.Errorf("deleting a missing row: %v", err)
		}
	},
	"count and list by version": func(t *testing.T, _ string, s Store) {
		ctx := context.Background()
		for i := range 7 {
			mustUpsert(t, s, tok(i), val(int32(1+i%2), fmt.Sprint(i)))
		}
		counts, err := s.CountByVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(counts) != 2 || counts[1] != 4 || counts[2] != 3 {
			t.Errorf("CountByVersion = %v, want map[1:4 2:3]", counts)
		}
		page, err := s.ListByVersion(ctx, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range page {
			if r.Version != 1 {
				t.Errorf("ListByVersion(1) returned a row of version %d", r.Version)
			}
			got = append(got, string(r.Data))
		}
		if strings.Join(got, ",") != "0,2,4" {
			t.Errorf("ListByVersion(1, 3) = %v, want the first three by token: 0,2,4", got)
		}
		if rest, _ := s.ListByVersion(ctx, 1, 100); len(rest) != 4 {
			t.Errorf("ListByVersion(1, 100) returned %d rows, want 4", len(rest))
		}
		if none, err := s.ListByVersion(ctx, 9, 10); err != nil || len(none) != 0 {
			t.Errorf("ListByVersion of an absent version = %v, %v; want none", none, err)
		}
		if _, err := s.ListByVersion(ctx, 1, 0); err == nil {
			t.Error("ListByVersion accepted limit 0")
		}
		// Scan pages through every version in token order.
		var scanned []string
		var after []byte
		for {
			page, err := s.Scan(ctx, after, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, r := range page {
				scanned = append(scanned, string(r.Data))
			}
			after = page[len(page)-1].Token
		}
		if strings.Join(scanned, ",") != "0,1,2,3,4,5,6" {
			t.Errorf("Scan pages = %v, want all seven rows in token order", scanned)
		}
	},
	"cursors": func(t *testing.T, _ string, s Store) {
		ctx := context.Background()
		if _, err := s.Cursor(ctx, "cerbo"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing cursor = %v, want ErrNotFound", err)
		}
		for _, v := range []string{"2026-11-25T08:00:00Z", "2026-11-25T09:00:00Z"} {
			if err := s.SetCursor(ctx, "cerbo", v); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Cursor(ctx, "cerbo"); err != nil || got != v {
				t.Errorf("Cursor = %q, %v; want %q", got, err, v)
			}
		}
		if _, err := s.Cursor(ctx, "zoho"); !errors.Is(err, ErrNotFound) {
			t.Errorf("cursors are not separate by name: %v", err)
		}
	},
	"cursors lists every cursor": func(t *testing.T, _ string, s Store) {
		ctx := context.Background()
		for name, v := range map[string]string{"a/cerbo": "1.x", "oauth/a/zoho": "2.y"} {
			if err := s.SetCursor(ctx, name, v); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Cursors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got["a/cerbo"] != "1.x" || got["oauth/a/zoho"] != "2.y" {
			t.Errorf("Cursors = %v, want both cursors", got)
		}
	},
	"deliveries queue in order, per queue, and survive a reopen": func(t *testing.T, dsn string, s Store) {
		ctx := context.Background()
		var seqs []int64
		for i, q := range []string{"hook", "other", "hook", "hook"} {
			seq, err := s.AppendDelivery(ctx, q, fmt.Sprint("d", i))
			if err != nil {
				t.Fatal(err)
			}
			if len(seqs) > 0 && seq <= seqs[len(seqs)-1] {
				t.Fatalf("sequence %d after %d: sequence numbers must grow", seq, seqs[len(seqs)-1])
			}
			seqs = append(seqs, seq)
		}
		sealedOf := func(ds []Delivery) string {
			var out []string
			for _, d := range ds {
				out = append(out, d.Queue+":"+d.Sealed)
			}
			return strings.Join(out, ",")
		}
		if page, err := s.Deliveries(ctx, "hook", 0, 2); err != nil || sealedOf(page) != "hook:d0,hook:d2" {
			t.Errorf("first page = %q, %v; want hook:d0,hook:d2", sealedOf(page), err)
		}
		if all, err := s.Deliveries(ctx, "", 0, 10); err != nil || sealedOf(all) != "hook:d0,other:d1,hook:d2,hook:d3" {
			t.Errorf("every queue = %q, %v", sealedOf(all), err)
		}
		if n, err := s.CountDeliveries(ctx, "hook"); err != nil || n != 3 {
			t.Errorf("CountDeliveries = %d, %v; want 3", n, err)
		}
		if err := s.DeleteDeliveries(ctx, "hook", seqs[2]); err != nil {
			t.Fatal(err)
		}
		if err := s.ResealDelivery(ctx, seqs[3], "d3 resealed"); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		again := openStore(t, dsn)
		if all, err := again.Deliveries(ctx, "", 0, 10); err != nil || sealedOf(all) != "other:d1,hook:d3 resealed" {
			t.Errorf("after delete and reopen = %q, %v; want other:d1,hook:d3 resealed", sealedOf(all), err)
		}
		if err := again.DeleteDeliveries(ctx, "hook", seqs[3]); err != nil {
			t.Fatal(err)
		}
		// An emptied queue does not hand out a number it already gave.
		seq, err := again.AppendDelivery(ctx, "hook", "d4")
		if err != nil || seq <= seqs[3] {
			t.Errorf("AppendDelivery after emptying = %d, %v; want above %d", seq, err, seqs[3])
		}
		if _, err := again.Deliveries(ctx, "hook", 0, 0); err == nil {
			t.Error("Deliveries accepted limit 0")
		}
	},
	"reopen keeps data and migrations are idempotent": func(t *testing.T, dsn string, s Store) {
		ctx := context.Background()
		mustUpsert(t, s, tok(1), val(1, "kept"))
		if err := s.SetCursor(ctx, "cerbo", "c1"); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			again := openStore(t, dsn)
			mustGet(t, again, tok(1), val(1, "kept"))
			if c, err := again.Cursor(ctx, "cerbo"); err != nil || c != "c1" {
				t.Errorf("cursor after reopen = %q, %v", c, err)
			}
			_ = again.Close()
		}
	},
	"concurrent writers": func(t *testing.T, dsn string, s Store) {
		ctx := context.Background()
		other := openStore(t, dsn) // a second handle, as a second process would have
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for w, st := range []Store{s, other, s, other} {
			wg.Go(func() {
				for i := range 25 {
					errs <- st.Upsert(ctx, tok(w*100+i), val(1, "x"))
					errs <- st.Replace(ctx, tok(w*100+i), tok(w*100+i), val(2, "y"))
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if counts, _ := s.CountByVersion(ctx); counts[2] != 100 || len(counts) != 1 {
			t.Errorf("CountByVersion after concurrent writes = %v, want map[2:100]", counts)
		}
	},
}

func mustUpsert(t *testing.T, s Store, token []byte, v Value) {
	t.Helper()
	if err := s.Upsert(context.Background(), token, v); err != nil {
		t.Fatal(err)
	}
}

func mustGet(t *testing.T, s Store, token []byte, want Value) {
	t.Helper()
	got, err := s.Get(context.Background(), token)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.Version != want.Version || !bytes.Equal(got.Data, want.Data) {
		t.Errorf("Get = {%d %q}, want {%d %q}", got.Version, got.Data, want.Version, want.Data)
	}
}

func TestSQLiteUsesWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mapping.db")
	s := openStore(t, "sqlite://"+path)
	var mode string
	if err := s.(*sqliteStore).db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not created: %v", err)
	}
}

func TestOpenRejects(t *testing.T) {
	tests := map[string]struct {
		dsn, wantIn, mustNotContain string
	}{
		"unknown scheme":       {dsn: "mysql://u:hunter2@h/db", wantIn: "unsupported DSN scheme", mustNotContain: "hunter2"},
		"no scheme":            {dsn: "/var/lib/tenantwire/mapping.db", wantIn: "unsupported DSN scheme"},
		"sqlite without path":  {dsn: "sqlite://", wantIn: "no file path"},
		"postgres unparseable": {dsn: "postgres://u:hunter2@h:notaport/db", wantIn: "does not parse", mustNotContain: "hunter2"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, err := Open(context.Background(), tc.dsn)
			if err == nil {
				_ = s.Close()
				t.Fatal("Open accepted the DSN")
			}
			if !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("error %q does not say %q", err, tc.wantIn)
			}
			if tc.mustNotContain != "" && strings.Contains(err.Error(), tc.mustNotContain) {
				t.Errorf("error %q reveals %q", err, tc.mustNotContain)
			}
		})
	}
}

// TestPostgresCommitSurvivesACrash: what the store acknowledged is there after PostgreSQL crashes
// right after it, on a server that acknowledges commits before their WAL is flushed
// (synchronous_commit=off, as pgtest's cluster runs). The sync moves on once a batch's rows and
// the cursor after them are committed; a crash that took them back would make it create the
// batch's customers again.
func TestPostgresCommitSurvivesACrash(t *testing.T) {
	if os.Getenv("STORE_SKIP_POSTGRES") == "1" {
		t.Skip("STORE_SKIP_POSTGRES=1")
	}
	ctx := context.Background()
	crashed, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatalf("PostgreSQL tests cannot run: %v", err)
	}
	t.Cleanup(func() { _ = crashed.Stop() })
	dsn, err := crashed.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	const batches = 3
	for b := range batches {
		if err := s.WriteRows(ctx, []Row{{Token: tok(2 * b), Value: val(1, "a")}, {Token: tok(2*b + 1), Value: val(1, "b")}}, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.SetCursor(ctx, "sync/cerbo", fmt.Sprintf("page-%d", b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := crashed.Halt(ctx); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if err := crashed.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dsn)
	lost := 0
	for i := range 2 * batches {
		if _, err := s.Get(ctx, tok(i)); err != nil {
			lost++
		}
	}
	cursor, err := s.Cursor(ctx, "sync/cerbo")
	if lost > 0 || err != nil || cursor != fmt.Sprintf("page-%d", batches-1) {
		t.Fatalf("after a crash %d of %d acknowledged rows are gone and the cursor is %q (%v), want page-%d", lost, 2*batches, cursor, err, batches-1)
	}
}
