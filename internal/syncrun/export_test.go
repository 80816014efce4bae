package syncrun

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/mapping"
	"github.com/tenantwire/tenantwire/internal/store"
)

func TestExportWritesEachPatientOnceAcrossKeyVersions(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	k1 := newKeyring(t, 1, 2)
	s := newSyncer(t, &pagedSource{records: patients(700), pageSize: 300, failAt: -1}, newMemoryDestination(), st, k1)
	if _, err := s.Cycle(ctx); err != nil {
		t.Fatal(err)
	}
	// Rotate without rewrapping: the export must read both versions.
	m, _ := keyring.NewMaterial(nil)
	k2 := keyring.Rotate(k1, k1.Algorithm, m, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 2)
	s.Codec = mapping.Codec{Tenant: "acme", Keyring: k2}
	s.Source = &pagedSource{records: patients(800), pageSize: 300, failAt: -1}
	if err := s.commitCursor(ctx, "700"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Cycle(ctx); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	res, err := Export(ctx, st, s.Codec, &out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if res.Patients != 800 || len(lines) != 800 {
		t.Fatalf("exported %d patients in %d lines, want 800", res.Patients, len(lines))
	}
	seen := map[string]bool{}
	for _, l := range lines {
		var rec mapping.Record
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.IDs["cerbo"] == "" || rec.IDs["quickbooks"] == "" || seen[rec.IDs["cerbo"]] {
			t.Fatalf("bad or repeated line %s", l)
		}
		seen[rec.IDs["cerbo"]] = true
	}

	// Without the keyring's old version the export refuses to pass for complete.
	_, err = Export(ctx, st, mapping.Codec{Tenant: "acme", Keyring: keyring.Trim(k2, 0)}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "1400 mapping rows could not be read") {
		t.Fatalf("export with a trimmed keyring = %v, want 1400 unreadable rows reported", err)
	}
}

func TestExportFileIsAtomic(t *testing.T) {
	configPath, cfg := podFiles(t, newKeyring(t, 1, 1))
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(cfg.StateDir, "mapping.db"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := LoadKeyring(cfg.KeyringFile)
	if err != nil {
		t.Fatal(err)
	}
	s := newSyncer(t, &pagedSource{records: patients(3), pageSize: 10, failAt: -1}, newMemoryDestination(), st, k)
	if _, err := s.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()

	out := filepath.Join(t.TempDir(), "final", "cerbo-to-quickbooks.jsonl")
	if err := ExportFile(context.Background(), configPath, out, testr.New(t)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil || strings.Count(string(b), "\n") != 3 {
		t.Fatalf("export file: %q, %v", b, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Fatalf("export directory holds %d entries, want only the export", len(entries))
	}
}
