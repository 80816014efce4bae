package syncrun

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"filippo.io/age"
	"github.com/go-logr/logr"

	"github.com/tenantwire/tenantwire/internal/exportarchive"
	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/store"
)

// ExportResult counts what an export wrote.
type ExportResult struct {
	Patients int
	// Unreadable rows are under key versions the keyring no longer holds.
	Unreadable int
}

// Export writes the tenant's patient-ID mapping to w as JSON lines, one patient per line:
// {"ids":{"cerbo":"...","quickbooks":"..."}}. A patient has a row per system it is known in, each
// holding the whole record; only the row keyed by the patient's first system (by name) is
// written, so each patient appears once. Unreadable rows are counted and fail the export after
// everything readable was written: an export that silently misses patients would be worse.
func Export(ctx context.Context, st store.Store, c mappingseal.Codec, w io.Writer) (ExportResult, error) {
	var res ExportResult
	enc := json.NewEncoder(w)
	var after []byte
	for {
		rows, err := st.Scan(ctx, after, rewrapBatch)
		if err != nil {
			return res, fmt.Errorf("reading the mapping: %w", err)
		}
		if len(rows) == 0 {
			break
		}
		for _, row := range rows {
			rec, first, err := openRow(c, row)
			if err != nil {
				res.Unreadable++
				continue
			}
			if !first {
				continue
			}
			if err := enc.Encode(rec); err != nil {
				return res, err
			}
			res.Patients++
		}
		after = rows[len(rows)-1].Token
	}
	if res.Unreadable > 0 {
		return res, fmt.Errorf("%d mapping rows could not be read (key version no longer in the keyring, or tampered)", res.Unreadable)
	}
	return res, nil
}

// openRow opens a row and says whether it is the patient's canonical row.
func openRow(c mappingseal.Codec, row store.Row) (mappingseal.Record, bool, error) {
	tok := mappingseal.Token{Version: row.Version}
	if len(row.Token) != mappingseal.TokenSize {
		return mappingseal.Record{}, false, mappingseal.ErrMalformed
	}
	copy(tok.Sum[:], row.Token)
	rec, err := c.Open(tok, mappingseal.Sealed{Version: row.Version, Data: row.Data})
	if err != nil || len(rec.IDs) == 0 {
		return rec, false, err
	}
	systems := make([]string, 0, len(rec.IDs))
	for s := range rec.IDs {
		systems = append(systems, s)
	}
	slices.Sort(systems)
	canonical, err := c.TokenAt(row.Version, systems[0], rec.IDs[systems[0]])
	return rec, err == nil && canonical == tok, nil
}

// ExportOptions say where and how `tenantwire export` writes.
type ExportOptions struct {
	// Dir receives <integration>.jsonl.age (or .jsonl in clear) and <integration>.manifest.json.
	Dir string
	// Recipients are the age public keys the export is sealed to; Plaintext must be set instead
	// for an export in clear. Exactly one of the two.
	Recipients []string
	Plaintext  bool
	// Now stamps the manifest; time.Now when nil.
	Now func() time.Time
}

// ExportFile runs `tenantwire export`: it reads the same configuration, keyring and store as the
// sync pods, writes the mapping sealed to the practice's age recipients (or in clear when asked
// for) and then the manifest, each atomically: a partial file is never left under a final name,
// and a manifest present means the data file it lists is complete.
func ExportFile(ctx context.Context, configPath string, opts ExportOptions, log logr.Logger) error {
	var recipients []age.Recipient
	switch {
	case opts.Plaintext && len(opts.Recipients) > 0:
		return errors.New("--plaintext and --recipient exclude each other")
	case !opts.Plaintext:
		var err error
		if recipients, err = exportarchive.ParseRecipients(opts.Recipients); err != nil {
			return fmt.Errorf("%w; pass --recipient (an age public key) or, for an export in clear, --plaintext", err)
		}
	}
	cfg, err := LoadConfig(configPath)
	if err != nil {
		return err
	}
	kr, err := LoadKeyring(cfg.KeyringFile)
	if err != nil {
		return err
	}
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return fmt.Errorf("creating the export directory: %w", err)
	}
	name := cfg.Integration + exportarchive.EncryptedSuffix
	if opts.Plaintext {
		name = cfg.Integration + exportarchive.PlainSuffix
	}
	output := filepath.Join(opts.Dir, name)
	tmp, err := os.CreateTemp(opts.Dir, ".export-*")
	if err != nil {
		return fmt.Errorf("creating the export file: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	var sink io.WriteCloser = nopCloser{tmp}
	if !opts.Plaintext {
		if sink, err = exportarchive.Seal(tmp, recipients); err != nil {
			return fmt.Errorf("sealing the export: %w", err)
		}
	}
	buf := bufio.NewWriter(sink)
	res, err := Export(ctx, st, mappingseal.Codec{Tenant: cfg.Tenant, Keyring: kr}, buf)
	log.Info("export finished", "tenant", cfg.Tenant, "integration", cfg.Integration, "patients", res.Patients,
		"unreadableRows", res.Unreadable, "encrypted", !opts.Plaintext)
	if err != nil {
		return err
	}
	if err := buf.Flush(); err != nil {
		return err
	}
	if err := sink.Close(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), output); err != nil {
		return err
	}
	file, err := exportarchive.Describe(output)
	if err != nil {
		return err
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	m := exportarchive.Manifest{Format: exportarchive.Format, Tenant: cfg.Tenant, Integration: cfg.Integration,
		CreatedAt: now().UTC(), Encryption: exportarchive.EncryptionAge, Recipients: opts.Recipients,
		KeyringVersion: kr.Active, Patients: res.Patients, Files: []exportarchive.File{file}}
	if v := kr.ActiveVersion(); v != nil {
		m.KeyringFingerprint = v.Fingerprint()
	}
	if opts.Plaintext {
		m.Encryption = exportarchive.EncryptionNone
	}
	if err := exportarchive.WriteManifest(filepath.Join(opts.Dir, cfg.Integration+exportarchive.ManifestSuffix), m); err != nil {
		return fmt.Errorf("writing the manifest: %w", err)
	}
	log.Info("export manifest written", "tenant", cfg.Tenant, "integration", cfg.Integration, "file", file.Name,
		"bytes", file.Size, "sha256", file.SHA256)
	return nil
}

// nopCloser lets the plaintext export share the sealed export's path; the file itself is closed
// after the flush.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
