// Package keyring is the versioned set of keys that encrypts one tenant's patient-ID mappings:
// the format of the keyring Secret (shared by the operator, which writes it, and the sync runtime,
// which reads it) and the pure decisions about rotation and retention.
package keyring

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

const (
	// SecretName is the keyring Secret in each tenant namespace.
	SecretName = "tenantwire-keyring"
	// DataKey is the Secret data key holding the keyring JSON.
	DataKey = "keyring.json"
	// KeySize is the size of both keys of a version (AES-256 and HMAC-SHA256).
	KeySize = 32

	// Annotations on the keyring Secret that describe it without revealing key material; status,
	// metrics and the Integration controller read these, never the data.
	ActiveVersionAnnotation = "tenantwire.io/active-version"
	VersionsAnnotation      = "tenantwire.io/versions"
	RotatedAtAnnotation     = "tenantwire.io/rotated-at"
)

// Version is one generation of keys.
type Version struct {
	Version int32     `json:"version"`
	Created time.Time `json:"created"`
	// EncryptionKey encrypts mapping values (AES-256-GCM); HMACKey derives lookup tokens.
	EncryptionKey []byte `json:"encryptionKey"`
	HMACKey       []byte `json:"hmacKey"`
}

// Keyring is every version still available for decryption, oldest first, and the active one.
type Keyring struct {
	Algorithm string    `json:"algorithm"`
	Active    int32     `json:"active"`
	Versions  []Version `json:"versions"`
}

// Material is the key material of a new version.
type Material struct {
	EncryptionKey []byte
	HMACKey       []byte
}

// NewMaterial draws fresh keys from r (crypto/rand.Reader in production).
func NewMaterial(r io.Reader) (Material, error) {
	if r == nil {
		r = rand.Reader
	}
	m := Material{EncryptionKey: make([]byte, KeySize), HMACKey: make([]byte, KeySize)}
	if _, err := io.ReadFull(r, m.EncryptionKey); err != nil {
		return Material{}, err
	}
	if _, err := io.ReadFull(r, m.HMACKey); err != nil {
		return Material{}, err
	}
	return m, nil
}

// Equal compares material in constant time.
func (m Material) Equal(o Material) bool {
	return subtle.ConstantTimeCompare(m.EncryptionKey, o.EncryptionKey) == 1 &&
		subtle.ConstantTimeCompare(m.HMACKey, o.HMACKey) == 1
}

// Validate checks the invariants every reader relies on: the active version exists, versions are
// strictly ascending, and every key has the right size. Errors never include key material.
func (k *Keyring) Validate() error {
	if len(k.Versions) == 0 {
		return errors.New("keyring has no versions")
	}
	for i, v := range k.Versions {
		if len(v.EncryptionKey) != KeySize || len(v.HMACKey) != KeySize {
			return fmt.Errorf("keyring version %d: keys must be %d bytes", v.Version, KeySize)
		}
		if i > 0 && v.Version <= k.Versions[i-1].Version {
			return fmt.Errorf("keyring versions are not strictly ascending at version %d", v.Version)
		}
	}
	if k.Get(k.Active) == nil {
		return fmt.Errorf("keyring active version %d is not among its versions", k.Active)
	}
	return nil
}

// Get returns a version, or nil.
func (k *Keyring) Get(version int32) *Version {
	for i := range k.Versions {
		if k.Versions[i].Version == version {
			return &k.Versions[i]
		}
	}
	return nil
}

// ActiveVersion returns the version new data is encrypted with.
func (k *Keyring) ActiveVersion() *Version { return k.Get(k.Active) }

// VersionNumbers lists the versions, oldest first.
func (k *Keyring) VersionNumbers() []int32 {
	out := make([]int32, 0, len(k.Versions))
	for _, v := range k.Versions {
		out = append(out, v.Version)
	}
	return out
}

// Parse reads and validates a keyring.
func Parse(data []byte) (*Keyring, error) {
	k := &Keyring{}
	if err := json.Unmarshal(data, k); err != nil {
		return nil, errors.New("keyring is not valid JSON")
	}
	if err := k.Validate(); err != nil {
		return nil, err
	}
	return k, nil
}

// Marshal renders the keyring; equal keyrings give identical bytes.
func (k *Keyring) Marshal() ([]byte, error) { return json.Marshal(k) }

// Rotate returns a new keyring with a version made of m, created at now, made active, keeping at
// most retain versions before it. The input is not modified; a nil keyring starts at version 1.
func Rotate(k *Keyring, algorithm string, m Material, now time.Time, retain int) *Keyring {
	return Trim(AddVersion(k, algorithm, m, now), retain)
}

// AddVersion is Rotate without dropping any version: the operator decides the retention apart,
// because dropping a version must wait until no reader still holds data under it.
func AddVersion(k *Keyring, algorithm string, m Material, now time.Time) *Keyring {
	next := &Keyring{Algorithm: algorithm, Active: 1}
	if k != nil {
		next.Versions = slices.Clone(k.Versions)
		if n := len(k.Versions); n > 0 {
			next.Active = k.Versions[n-1].Version + 1
		}
	}
	next.Versions = append(next.Versions, Version{
		Version:       next.Active,
		Created:       now.UTC().Truncate(time.Second),
		EncryptionKey: slices.Clone(m.EncryptionKey),
		HMACKey:       slices.Clone(m.HMACKey),
	})
	return next
}

// StartAfter returns a new keyring whose one version, made of m, is numbered after lost: the
// keyring that replaces a lost one never reuses a lost version's number, so that data sealed under
// the lost keys is reported as under an unknown version, not mistaken for the new one.
func StartAfter(lost int32, algorithm string, m Material, now time.Time) *Keyring {
	k := AddVersion(nil, algorithm, m, now)
	k.Active = max(lost, 0) + 1
	k.Versions[0].Version = k.Active
	return k
}

// fingerprintLabel separates the fingerprint's hash from every other use of the keys.
const fingerprintLabel = "tenantwire.io/keyring-fingerprint/v1\x00"

// Fingerprint identifies a version's key material without revealing it: the first 16 hex digits
// (64 bits) of SHA-256 over a fixed label and both keys. SHA-256 cannot be inverted, and the keys
// are 256 random bits each, so the fingerprint gives no shortcut to them; the label makes the hash
// differ from any other digest of the same bytes. 64 bits tell keyrings apart; they are not meant
// to resist someone who chooses the keys, who could write the keyring anyway.
func (v *Version) Fingerprint() string {
	h := sha256.New()
	h.Write([]byte(fingerprintLabel))
	h.Write(v.EncryptionKey)
	h.Write(v.HMACKey)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Trim drops versions beyond retain before the active one (after a policy lowered its retention).
// It returns the keyring unchanged, not a copy, when nothing is beyond retention.
func Trim(k *Keyring, retain int) *Keyring {
	if retain < 0 {
		retain = 0
	}
	extra := len(k.Versions) - (retain + 1)
	if extra <= 0 {
		return k
	}
	return &Keyring{Algorithm: k.Algorithm, Active: k.Active, Versions: slices.Clone(k.Versions[extra:])}
}

// RotationDue decides whether a generated keyring must rotate now, and when it next will. A
// keyring whose active version was created in the future (the clock moved back) is not due: it
// rotates one period after that creation time, never in a loop.
func RotationDue(k *Keyring, period time.Duration, now time.Time, onDemand bool) (due bool, next time.Time) {
	if k == nil || k.ActiveVersion() == nil {
		return true, now.Add(period)
	}
	next = k.ActiveVersion().Created.Add(period)
	if onDemand || !now.Before(next) {
		return true, now.Add(period)
	}
	return false, next
}
