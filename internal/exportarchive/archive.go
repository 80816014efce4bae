// Package exportarchive seals an offboarding export to the practice's age public keys and writes
// the manifest that lets anyone check the files arrived whole without being able to read them.
//
// The manifest holds names, sizes, counts, SHA-256 checksums, the keyring version the mapping was
// read under and the time: never a patient identifier. It is not signed: it detects a damaged or
// altered file, not a writer of the claim who rewrites both the file and the manifest (age
// authenticates the ciphertext to its file key, but anyone with the public key can seal a
// substitute; the practice's copy of the manifest, taken when it fetched the files, is the anchor).
package exportarchive

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"
)

// Format names the manifest's schema.
const Format = "tenantwire.io/export-manifest/v1"

// Encryption values in a manifest.
const (
	EncryptionAge  = "age-x25519"
	EncryptionNone = "none"
)

// ManifestSuffix and the data suffixes name an Integration's files in the request's directory.
const (
	ManifestSuffix  = ".manifest.json"
	PlainSuffix     = ".jsonl"
	EncryptedSuffix = ".jsonl.age"
)

// Manifest describes one Integration's export.
type Manifest struct {
	Format      string    `json:"format"`
	Tenant      string    `json:"tenant"`
	Integration string    `json:"integration"`
	CreatedAt   time.Time `json:"createdAt"`
	// Encryption is age-x25519 or none; Recipients are the age public keys it was sealed to.
	Encryption string   `json:"encryption"`
	Recipients []string `json:"recipients,omitempty"`
	// KeyringVersion and KeyringFingerprint name the active mapping key the export read under
	// (a fingerprint, never key material).
	KeyringVersion     int32  `json:"keyringVersion"`
	KeyringFingerprint string `json:"keyringFingerprint,omitempty"`
	Patients           int    `json:"patients"`
	Files              []File `json:"files"`
}

// File is one file of the export, named relative to the manifest's directory.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ParseRecipients parses age X25519 public keys. The error names the position, not the value:
// a secret key pasted by mistake must not travel into logs and status.
func ParseRecipients(rs []string) ([]age.Recipient, error) {
	if len(rs) == 0 {
		return nil, errors.New("no age recipient: the export would be in clear")
	}
	out := make([]age.Recipient, 0, len(rs))
	for i, s := range rs {
		r, err := age.ParseX25519Recipient(s)
		if err != nil {
			return nil, fmt.Errorf("spec.export.recipients[%d] is not a valid age X25519 public key (its bech32 encoding or checksum is wrong); copy it again from age-keygen -y", i)
		}
		out = append(out, r)
	}
	return out, nil
}

// Seal wraps w so that what is written is encrypted to the recipients; Close finishes the
// ciphertext (without it the file cannot be decrypted).
func Seal(w io.Writer, recipients []age.Recipient) (io.WriteCloser, error) {
	return age.Encrypt(w, recipients...)
}

// Describe returns a file's manifest entry.
func Describe(path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, err
	}
	return File{Name: filepath.Base(path), Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// WriteManifest writes m to path atomically (a temporary file renamed into place): a manifest
// present is a complete one.
func WriteManifest(path string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".manifest-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ErrMismatch is returned (wrapped) when a file differs from its manifest entry.
var ErrMismatch = errors.New("export file does not match its manifest")

// Verify reads the manifest at path and checks every file it lists, next to it, for size and
// SHA-256.
func Verify(path string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("reading the manifest: %w", err)
	}
	if m.Format != Format {
		return m, fmt.Errorf("manifest format %q, want %q", m.Format, Format)
	}
	if len(m.Files) == 0 {
		return m, errors.New("the manifest lists no file")
	}
	for _, want := range m.Files {
		if want.Name != filepath.Base(want.Name) {
			return m, fmt.Errorf("manifest entry %q is not a plain file name", want.Name)
		}
		got, err := Describe(filepath.Join(filepath.Dir(path), want.Name))
		if err != nil {
			return m, err
		}
		if got != want {
			return m, fmt.Errorf("%w: %s has %d bytes with SHA-256 %s, the manifest says %d bytes with %s",
				ErrMismatch, want.Name, got.Size, got.SHA256, want.Size, want.SHA256)
		}
	}
	return m, nil
}
