// Package mappingseal is the cryptography of the sync runtime's only data at rest: the mapping that
// links one patient across systems by their IDs. It is pure (no I/O) and knows nothing of storage.
//
// A row of the mapping is found by a lookup token and holds a sealed record:
//
//   - The token is HMAC-SHA256, under the HMAC key of one keyring version, over the tenant, the
//     system and the patient's ID in that system, each length-prefixed so that no two different
//     triples encode alike ("ab","c" never collides with "a","bc").
//   - The record (the patient's ID in every system, nothing else) is sealed with AES-256-GCM under
//     the encryption key of the active version, with a random 12-byte nonce. The version travels
//     with the ciphertext, and the associated data binds the tenant, the version and the token, so
//     a value copied to another tenant or another row does not open.
//
// Tokens and rotation. A token is always computed and written under the same version as the value
// it keys: a row is wholly of one version. New rows are written under the active version. After a
// rotation, rows of older versions are rewrapped: opened, their token recomputed under the active
// HMAC key (the record holds the IDs that the token was computed from), and sealed again under the
// new token. Lookups meanwhile try the token of every retained version, active first
// (Codec.Tokens), because until the rewrap has finished a patient's row may still sit under an
// older token; a lookup only under the active token would miss it, and a sync would then create a
// duplicate row that the rewrap later overwrites. We chose to recompute tokens rather than keep
// lookups under every version forever because trimming a version destroys its HMAC key: a row left
// under that version's token could never be found again, even with its value rewrapped. So once
// the rewrap of a version has finished, trimming it loses nothing, and destroying every version
// (crypto-shredding) makes every row unreadable and unfindable.
//
// Errors name what failed, never key material, tokens' inputs or patient IDs.
package mappingseal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/tenantwire/tenantwire/internal/keyring"
)

const (
	// NonceSize is the size of the random AES-GCM nonce that prefixes sealed data.
	NonceSize = 12
	// TokenSize is the size of a lookup token (HMAC-SHA256).
	TokenSize = sha256.Size

	tokenDomain       = "tenantwire/mapping/token/v1"
	idempotencyDomain = "tenantwire/mapping/idempotency/v1"
	sealDomain        = "tenantwire/mapping/record/v1"
)

var (
	// ErrUnknownVersion means the keyring holds no such version: it was trimmed or destroyed, or
	// the value belongs to another keyring.
	ErrUnknownVersion = errors.New("mappingseal: key version not in the keyring")
	// ErrTampered means the value does not authenticate under its key, tenant and token: it was
	// modified, moved to another row or tenant, or sealed with other keys.
	ErrTampered = errors.New("mappingseal: sealed value failed authentication")
	// ErrMalformed means an authentic value or an input does not have the expected shape.
	ErrMalformed = errors.New("mappingseal: malformed input")
	// ErrNotActive means a value was about to be sealed under a token of a version that is not
	// the active one, which would break the invariant that a row is wholly of one version.
	ErrNotActive = errors.New("mappingseal: token is not of the active key version")
)

// Record is what the mapping knows of one patient: their ID in each system, by system name. It
// never holds any other field.
type Record struct {
	IDs map[string]string `json:"ids"`
}

// Token finds a row. Version is the keyring version whose HMAC key computed Sum.
type Token struct {
	Version int32
	Sum     [TokenSize]byte
}

// Bytes returns the token as a store key.
func (t Token) Bytes() []byte { return bytes.Clone(t.Sum[:]) }

// Sealed is a record at rest: the key version and the nonce followed by the AES-GCM ciphertext.
type Sealed struct {
	Version int32
	Data    []byte
}

// Codec seals and opens one tenant's records with its keyring. The keyring must be valid
// (keyring.Parse validates); Codec does not modify it.
type Codec struct {
	Tenant  string
	Keyring *keyring.Keyring
	// Rand is the nonce source; nil means crypto/rand.
	Rand io.Reader
}

// Token computes the lookup token of a patient's ID in a system under the active version.
func (c Codec) Token(system, id string) (Token, error) {
	if c.Keyring == nil || c.Keyring.ActiveVersion() == nil {
		return Token{}, ErrUnknownVersion
	}
	return c.TokenAt(c.Keyring.Active, system, id)
}

// IdempotencyKey derives the key under which a destination may dedupe creates of one patient
// (by their ID in the source system) for one Integration. It is stable for the active version and
// reveals nothing of the ID without the HMAC key.
func (c Codec) IdempotencyKey(integration, system, id string) (string, error) {
	v := c.version(c.activeVersion())
	if v == nil {
		return "", ErrUnknownVersion
	}
	mac := hmac.New(sha256.New, v.HMACKey)
	mac.Write(lengthPrefixed(idempotencyDomain, c.Tenant, integration, system, id))
	return hex.EncodeToString(mac.Sum(nil)[:16]), nil
}

func (c Codec) activeVersion() int32 {
	if c.Keyring == nil {
		return 0
	}
	return c.Keyring.Active
}

// TokenAt computes the lookup token under a given version.
func (c Codec) TokenAt(version int32, system, id string) (Token, error) {
	v := c.version(version)
	if v == nil {
		return Token{}, ErrUnknownVersion
	}
	mac := hmac.New(sha256.New, v.HMACKey)
	mac.Write(lengthPrefixed(tokenDomain, c.Tenant, system, id))
	t := Token{Version: version}
	mac.Sum(t.Sum[:0])
	return t, nil
}

// Tokens computes the lookup token under every version of the keyring, active first and then
// newest to oldest: the order in which a lookup should try them.
func (c Codec) Tokens(system, id string) []Token {
	if c.Keyring == nil {
		return nil
	}
	versions := []int32{c.Keyring.Active}
	for i := len(c.Keyring.Versions) - 1; i >= 0; i-- {
		if v := c.Keyring.Versions[i].Version; v != c.Keyring.Active {
			versions = append(versions, v)
		}
	}
	out := make([]Token, 0, len(versions))
	for _, v := range versions {
		if t, err := c.TokenAt(v, system, id); err == nil {
			out = append(out, t)
		}
	}
	return out
}

// Seal encrypts a record for the row of token, which must be of the active version.
func (c Codec) Seal(token Token, r Record) (Sealed, error) {
	if c.Keyring == nil || c.Keyring.ActiveVersion() == nil {
		return Sealed{}, ErrUnknownVersion
	}
	if token.Version != c.Keyring.Active {
		return Sealed{}, ErrNotActive
	}
	plain, err := json.Marshal(r)
	if err != nil {
		return Sealed{}, fmt.Errorf("%w: record does not serialize", ErrMalformed)
	}
	aead, err := c.aead(token.Version)
	if err != nil {
		return Sealed{}, err
	}
	rnd := c.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	data := make([]byte, NonceSize, NonceSize+len(plain)+aead.Overhead())
	if _, err := io.ReadFull(rnd, data); err != nil {
		return Sealed{}, fmt.Errorf("mappingseal: drawing a nonce: %w", err)
	}
	data = aead.Seal(data, data[:NonceSize], plain, c.associatedData(token.Version, token))
	return Sealed{Version: token.Version, Data: data}, nil
}

// Open decrypts the value of the row of token. It never panics on arbitrary input.
func (c Codec) Open(token Token, s Sealed) (Record, error) {
	aead, err := c.aead(s.Version)
	if err != nil {
		return Record{}, err
	}
	if len(s.Data) < NonceSize+aead.Overhead() {
		return Record{}, ErrTampered
	}
	plain, err := aead.Open(nil, s.Data[:NonceSize], s.Data[NonceSize:], c.associatedData(s.Version, token))
	if err != nil {
		return Record{}, ErrTampered
	}
	var r Record
	if err := json.Unmarshal(plain, &r); err != nil {
		return Record{}, fmt.Errorf("%w: record does not parse", ErrMalformed)
	}
	return r, nil
}

func (c Codec) version(v int32) *keyring.Version {
	if c.Keyring == nil {
		return nil
	}
	kv := c.Keyring.Get(v)
	if kv == nil || len(kv.EncryptionKey) != keyring.KeySize || len(kv.HMACKey) != keyring.KeySize {
		return nil
	}
	return kv
}

func (c Codec) aead(version int32) (cipher.AEAD, error) {
	v := c.version(version)
	if v == nil {
		return nil, ErrUnknownVersion
	}
	block, err := aes.NewCipher(v.EncryptionKey)
	if err != nil {
		return nil, ErrUnknownVersion
	}
	return cipher.NewGCMWithNonceSize(block, NonceSize)
}

// associatedData binds a value to its tenant, key version and row. The token's own version is
// part of it, so a value sealed for one version's token does not open under another's.
func (c Codec) associatedData(version int32, token Token) []byte {
	var v, tv [4]byte
	binary.BigEndian.PutUint32(v[:], uint32(version))
	binary.BigEndian.PutUint32(tv[:], uint32(token.Version))
	return lengthPrefixed(sealDomain, c.Tenant, string(v[:]), string(tv[:]), string(token.Sum[:]))
}

// lengthPrefixed encodes fields unambiguously: each is preceded by its length as 8 bytes.
func lengthPrefixed(fields ...string) []byte {
	n := 0
	for _, f := range fields {
		n += 8 + len(f)
	}
	out := make([]byte, 0, n)
	for _, f := range fields {
		out = binary.BigEndian.AppendUint64(out, uint64(len(f)))
		out = append(out, f...)
	}
	return out
}
