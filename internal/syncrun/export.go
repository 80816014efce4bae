package syncrun

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/go-logr/logr"

	"github.com/tenantwire/tenantwire/internal/mapping"
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
func Export(ctx context.Context, st store.Store, c mapping.Codec, w io.Writer) (ExportResult, error) {
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
func openRow(c mapping.Codec, row store.Row) (mapping.Record, bool, error) {
	tok := mapping.Token{Version: row.Version}
	if len(row.Token) != mapping.TokenSize {
		return mapping.Record{}, false, mapping.ErrMalformed
	}
	copy(tok.Sum[:], row.Token)
	rec, err := c.Open(tok, mapping.Sealed{Version: row.Version, Data: row.Data})
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

// ExportFile runs `tenantwire export`: it reads the same configuration, keyring and store as the
// sync pods and writes the mapping to output, atomically (a partial file is never left under the
// final name).
func ExportFile(ctx context.Context, configPath, output string, log logr.Logger) error {
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
	if err := os.MkdirAll(filepath.Dir(output), 0o750); err != nil {
		return fmt.Errorf("creating the export directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(output), ".export-*")
	if err != nil {
		return fmt.Errorf("creating the export file: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	buf := bufio.NewWriter(tmp)
	res, err := Export(ctx, st, mapping.Codec{Tenant: cfg.Tenant, Keyring: kr}, buf)
	log.Info("export finished", "tenant", cfg.Tenant, "integration", cfg.Integration, "patients", res.Patients, "unreadableRows", res.Unreadable)
	if err != nil {
		return err
	}
	if err := buf.Flush(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), output)
}
