package mappingseal

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
)

const stateDomain = "tenantwire/mapping/state/v1"

// SealState encrypts a piece of the runtime's state (a sync cursor, a rotated refresh token) under
// the active version, bound to the tenant and the state's name. Some systems' cursors hold a record
// ID (GoHighLevel pages by contact ID), and the store keeps nothing readable without the keyring.
// The result is text: "<version>.<base64>".
func (c Codec) SealState(name, cursor string) (string, error) {
	if c.Keyring == nil || c.Keyring.ActiveVersion() == nil {
		return "", ErrUnknownVersion
	}
	v := c.Keyring.Active
	aead, err := c.aead(v)
	if err != nil {
		return "", err
	}
	rnd := c.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	data := make([]byte, NonceSize, NonceSize+len(cursor)+aead.Overhead())
	if _, err := io.ReadFull(rnd, data); err != nil {
		return "", fmt.Errorf("mappingseal: drawing a nonce: %w", err)
	}
	data = aead.Seal(data, data[:NonceSize], []byte(cursor), c.stateData(v, name))
	return strconv.Itoa(int(v)) + "." + base64.RawStdEncoding.EncodeToString(data), nil
}

// OpenState decrypts sealed state with any retained version; state under a trimmed version
// returns ErrUnknownVersion.
func (c Codec) OpenState(name, sealed string) (string, error) {
	v, err := StateVersion(sealed)
	if err != nil {
		return "", err
	}
	_, b64, _ := strings.Cut(sealed, ".")
	data, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil {
		return "", ErrMalformed
	}
	aead, err := c.aead(v)
	if err != nil {
		return "", err
	}
	if len(data) < NonceSize+aead.Overhead() {
		return "", ErrTampered
	}
	plain, err := aead.Open(nil, data[:NonceSize], data[NonceSize:], c.stateData(v, name))
	if err != nil {
		return "", ErrTampered
	}
	return string(plain), nil
}

func (c Codec) stateData(version int32, name string) []byte {
	var v [4]byte
	binary.BigEndian.PutUint32(v[:], uint32(version))
	return lengthPrefixed(stateDomain, c.Tenant, string(v[:]), name)
}

// StateVersion is the key version sealed state was sealed under, read without opening it.
func StateVersion(sealed string) (int32, error) {
	vs, _, ok := strings.Cut(sealed, ".")
	if !ok {
		return 0, ErrMalformed
	}
	v, err := strconv.ParseInt(vs, 10, 32)
	if err != nil {
		return 0, ErrMalformed
	}
	return int32(v), nil
}

// ResealState opens sealed state with its own version and seals it again under the active one,
// bound to the same name.
func (c Codec) ResealState(name, sealed string) (string, error) {
	plain, err := c.OpenState(name, sealed)
	if err != nil {
		return "", err
	}
	return c.SealState(name, plain)
}
