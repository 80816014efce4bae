package syncrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/go-logr/logr/funcr"
	"github.com/go-logr/logr/testr"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/exportarchive"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/mappingseal"
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
	s.Codec = mappingseal.Codec{Tenant: "acme", Keyring: k2}
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
		var rec mappingseal.Record
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.IDs["cerbo"] == "" || rec.IDs["quickbooks"] == "" || seen[rec.IDs["cerbo"]] {
			t.Fatalf("bad or repeated line %s", l)
		}
		seen[rec.IDs["cerbo"]] = true
	}

	// Without the keyring's old version the export refuses to pass for complete.
	_, err = Export(ctx, st, mappingseal.Codec{Tenant: "acme", Keyring: keyring.Trim(k2, 0)}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "1400 mapping rows could not be read") {
		t.Fatalf("export with a trimmed keyring = %v, want 1400 unreadable rows reported", err)
	}
}

// exportFixture is an Integration's pod files with a mapping of the given patients, as the export
// Job finds them.
func exportFixture(t *testing.T, records []connector.Record) (configPath string) {
	t.Helper()
	configPath, cfg := podFiles(t, newKeyring(t, 1, 1))
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(cfg.StateDir, "mapping.db"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := LoadKeyring(cfg.KeyringFile)
	if err != nil {
		t.Fatal(err)
	}
	s := newSyncer(t, &pagedSource{records: records, pageSize: 10, failAt: -1}, newMemoryDestination(), st, k)
	if _, err := s.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	return configPath
}

func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestExportFileIsAtomic(t *testing.T) {
	configPath := exportFixture(t, patients(3))
	dir := filepath.Join(t.TempDir(), "final")
	if err := ExportFile(context.Background(), configPath, ExportOptions{Dir: dir, Plaintext: true}, testr.New(t)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "cerbo-to-quickbooks.jsonl"))
	if err != nil || strings.Count(string(b), "\n") != 3 {
		t.Fatalf("export file: %q, %v", b, err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"cerbo-to-quickbooks.jsonl", "cerbo-to-quickbooks.manifest.json"}; !slices.Equal(names, want) {
		t.Fatalf("export directory holds %v, want only %v", names, want)
	}
	m, err := exportarchive.Verify(filepath.Join(dir, "cerbo-to-quickbooks.manifest.json"))
	if err != nil || m.Encryption != exportarchive.EncryptionNone {
		t.Fatalf("plaintext export's manifest: %+v, %v", m, err)
	}
}

// The practice's key opens the export; anyone else's, including the operator's, does not, and the
// file on the claim is not the mapping in clear.
func TestSealedExportOpensOnlyWithThePracticeKey(t *testing.T) {
	const planted = "PATIENT-73910482"
	records := patients(4)
	records[2].ID, records[2].PatientID, records[2].Patient.Source.ID = planted, planted, planted
	configPath := exportFixture(t, records)
	practice, other := newIdentity(t), newIdentity(t)
	dir := t.TempDir()
	opts := ExportOptions{Dir: dir, Recipients: []string{practice.Recipient().String()}}
	if err := ExportFile(context.Background(), configPath, opts, testr.New(t)); err != nil {
		t.Fatal(err)
	}
	sealed, err := os.ReadFile(filepath.Join(dir, "cerbo-to-quickbooks.jsonl.age"))
	if err != nil {
		t.Fatalf("no sealed export file: %v", err)
	}
	if bytes.Contains(sealed, []byte(planted)) || bytes.Contains(sealed, []byte(`"ids"`)) {
		t.Fatal("the export file on the claim holds the mapping in clear")
	}
	if _, err := age.Decrypt(bytes.NewReader(sealed), other); err == nil {
		t.Fatal("another age identity decrypted the export")
	}
	r, err := age.Decrypt(bytes.NewReader(sealed), practice)
	if err != nil {
		t.Fatalf("the practice's identity cannot decrypt the export: %v", err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(plain), "\n"); n != 4 || !strings.Contains(string(plain), planted) {
		t.Fatalf("decrypted export has %d lines (want 4) or lacks the planted patient: %q", n, plain)
	}
}

// The manifest's checksums hold for the export as written, and any change to a byte of the file
// is caught.
func TestExportManifestDetectsATamperedFile(t *testing.T) {
	configPath := exportFixture(t, patients(5))
	id := newIdentity(t)
	dir := t.TempDir()
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	opts := ExportOptions{Dir: dir, Recipients: []string{id.Recipient().String()}, Now: func() time.Time { return at }}
	if err := ExportFile(context.Background(), configPath, opts, testr.New(t)); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(dir, "cerbo-to-quickbooks.manifest.json")
	m, err := exportarchive.Verify(manifest)
	if err != nil {
		t.Fatalf("untouched export fails verification: %v", err)
	}
	if m.Encryption != exportarchive.EncryptionAge || m.Patients != 5 || m.KeyringVersion != 1 || len(m.KeyringFingerprint) != 16 ||
		!m.CreatedAt.Equal(at) || len(m.Files) != 1 || m.Files[0].Name != "cerbo-to-quickbooks.jsonl.age" ||
		!slices.Equal(m.Recipients, opts.Recipients) {
		t.Fatalf("manifest %+v", m)
	}
	data := filepath.Join(dir, m.Files[0].Name)
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0x01
	if err := os.WriteFile(data, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := exportarchive.Verify(manifest); !errors.Is(err, exportarchive.ErrMismatch) {
		t.Fatalf("tampered export verified: %v", err)
	}
	// age authenticates the ciphertext: the practice's key does not open the altered file either.
	if r, err := age.Decrypt(bytes.NewReader(b), id); err == nil {
		if _, err := io.ReadAll(r); err == nil {
			t.Fatal("the tampered export decrypted without error")
		}
	}
}

// What the export says about itself, in its logs, its error and its manifest, names no patient.
func TestExportLogsAndManifestCarryNoPatientID(t *testing.T) {
	const planted = "PATIENT-73910482"
	records := patients(3)
	records[1].ID, records[1].PatientID, records[1].Patient.Source.ID = planted, planted, planted
	configPath := exportFixture(t, records)
	id := newIdentity(t)
	for name, opts := range map[string]ExportOptions{
		"sealed":    {Recipients: []string{id.Recipient().String()}},
		"plaintext": {Plaintext: true},
	} {
		t.Run(name, func(t *testing.T) {
			var logs strings.Builder
			log := funcr.New(func(prefix, args string) { logs.WriteString(prefix + " " + args + "\n") }, funcr.Options{Verbosity: 10})
			opts.Dir = t.TempDir()
			if err := ExportFile(context.Background(), configPath, opts, log); err != nil {
				t.Fatal(err)
			}
			manifest, err := os.ReadFile(filepath.Join(opts.Dir, "cerbo-to-quickbooks.manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			for what, text := range map[string]string{"logs": logs.String(), "manifest": string(manifest)} {
				if strings.Contains(text, planted) || strings.Contains(text, `"p0"`) {
					t.Errorf("the export's %s carry a patient ID: %s", what, text)
				}
			}
			if !strings.Contains(logs.String(), "export finished") {
				t.Errorf("no export log line captured: %q", logs.String())
			}
		})
	}
}

// Neither recipients nor plaintext is an export the runtime refuses before it reads a row.
func TestExportRefusesNeitherSealedNorDeliberatelyInClear(t *testing.T) {
	configPath := exportFixture(t, patients(1))
	tests := map[string]struct {
		opts ExportOptions
		want string
	}{
		"neither":        {opts: ExportOptions{}, want: "no age recipient"},
		"not an age key": {opts: ExportOptions{Recipients: []string{"ssh-ed25519 AAAA"}}, want: "recipients[0] is not a valid age X25519 public key"},
		"both":           {opts: ExportOptions{Plaintext: true, Recipients: []string{newIdentity(t).Recipient().String()}}, want: "exclude each other"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.opts.Dir = t.TempDir()
			err := ExportFile(context.Background(), configPath, tc.opts, testr.New(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if entries, _ := os.ReadDir(tc.opts.Dir); len(entries) != 0 {
				t.Fatalf("a refused export wrote %d files", len(entries))
			}
		})
	}
}
