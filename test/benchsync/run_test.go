package main

import (
	"bytes"
	"context"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/mappingstore"
	"github.com/tenantwire/tenantwire/internal/store"
)

func openTestSQLite(t *testing.T) *database {
	t.Helper()
	db, err := openSQLite(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

// olderCodec is c with its oldest version active, to write rows as they were before a rotation.
func olderCodec(c mappingseal.Codec) mappingseal.Codec {
	k := *c.Keyring
	k.Active = k.Versions[0].Version
	c.Keyring = &k
	return c
}

// The comparison is fair only if every path does the same work: the same rows written, the same
// older rows deleted, and what the raw driver wrote opens as mappingstore's own rows do.
func TestPathsLeaveTheSameRows(t *testing.T) {
	ctx := context.Background()
	codec, err := newCodec()
	if err != nil {
		t.Fatal(err)
	}
	patients, err := makePatients(codec, 0, 20)
	if err != nil {
		t.Fatal(err)
	}
	dumps := map[string][]store.Row{}
	for _, newPath := range []func(db *database) path{
		func(db *database) path { return statementPath{label: pathRaw, run: db.raw} },
		func(db *database) path { return statementPath{label: pathStore, run: storeStatements{db.store}} },
		func(db *database) path { return mappingstorePath{s: db.store, c: codec} },
	} {
		db := openTestSQLite(t)
		p := newPath(db)
		// Half the patients have rows from before the rotation, which put must remove.
		for _, pt := range patients[:10] {
			if err := mappingstore.Put(ctx, db.store, olderCodec(codec), pt.record); err != nil {
				t.Fatal(err)
			}
		}
		for i := range patients {
			if err := p.put(ctx, &patients[i]); err != nil {
				t.Fatalf("%s: put: %v", p.name(), err)
			}
		}
		for i := range patients {
			for system := range systems {
				if err := p.lookup(ctx, &patients[i], system); err != nil {
					t.Errorf("%s: lookup of patient %d in %s: %v", p.name(), i, systems[system], err)
				}
				got, err := mappingstore.Lookup(ctx, db.store, codec, systems[system], patients[i].record.IDs[systems[system]])
				if err != nil || !maps.Equal(got.IDs, patients[i].record.IDs) {
					t.Errorf("%s: mappingstore.Lookup of what it wrote for patient %d: %v, %v", p.name(), i, got.IDs, err)
				}
			}
		}
		counts, err := db.store.CountByVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int32]int64{codec.Keyring.Active: int64(len(patients) * len(systems))}; !maps.Equal(counts, want) {
			t.Errorf("%s: rows by version %v, want %v: older rows left or rows missing", p.name(), counts, want)
		}
		if dumps[p.name()], err = db.store.ListByVersion(ctx, codec.Keyring.Active, 1000); err != nil {
			t.Fatal(err)
		}
	}
	raw, st, full := dumps[pathRaw], dumps[pathStore], dumps[pathMappingstore]
	if len(raw) != len(st) || len(raw) != len(full) {
		t.Fatalf("rows: raw %d, store %d, mappingstore %d", len(raw), len(st), len(full))
	}
	for i := range raw {
		if !bytes.Equal(raw[i].Token, st[i].Token) || !bytes.Equal(raw[i].Token, full[i].Token) {
			t.Errorf("row %d: the paths wrote different tokens", i)
		}
		// The values sealed beforehand are the same bytes; mappingstore seals with fresh nonces.
		if !bytes.Equal(raw[i].Data, st[i].Data) || len(raw[i].Data) != len(full[i].Data) {
			t.Errorf("row %d: raw and store wrote different values, or mappingstore's differs in size", i)
		}
	}
}

// A short run on SQLite: every figure is there and counts operations, whatever their speed.
func TestSmokeSQLite(t *testing.T) {
	db := openTestSQLite(t)
	cfg := config{Rows: 200, Concurrency: []int{1, 2}, Duration: 50 * time.Millisecond, Rounds: 1}
	figs, err := runDatabase(context.Background(), backendSQLite, db, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(cfg.Concurrency) * len(operations) * 3; len(figs) != want {
		t.Fatalf("%d figures, want %d", len(figs), want)
	}
	for _, f := range figs {
		if f.Ops == 0 || f.P50 <= 0 || f.P99 < f.P50 || f.Ratio <= 0 {
			t.Errorf("%s: implausible figures %+v", f.line(), f)
		}
		if f.Path == pathRaw && f.Ratio != 1 {
			t.Errorf("%s: the baseline's ratio to itself is %v", f.line(), f.Ratio)
		}
	}
	counts, err := db.store.CountByVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// newCodec's keyring numbers its versions from 1, so the active one is keyVersions.
	if len(counts) != 1 || counts[keyVersions] <= int64(cfg.Rows) {
		t.Errorf("rows by version after the run %v: want only version %d, more than the %d rows filled in", counts, keyVersions, cfg.Rows)
	}
	md := report{config: cfg, Figures: figs, Servers: []string{db.server}}.markdown()
	if n := strings.Count(md, "\n| sqlite |"); n != len(figs) {
		t.Errorf("the Markdown table has %d rows, want %d:\n%s", n, len(figs), md)
	}
}

func TestPositiveInts(t *testing.T) {
	if got, err := positiveInts("1, 8"); err != nil || len(got) != 2 || got[0] != 1 || got[1] != 8 {
		t.Errorf(`positiveInts("1, 8") = %v, %v`, got, err)
	}
	for _, bad := range []string{"", "0", "1,x", "-2"} {
		if _, err := positiveInts(bad); err == nil {
			t.Errorf("positiveInts(%q) accepted it", bad)
		}
	}
}
