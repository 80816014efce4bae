package keyring

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

func material(b byte) Material {
	return Material{EncryptionKey: bytes.Repeat([]byte{b}, KeySize), HMACKey: bytes.Repeat([]byte{b + 1}, KeySize)}
}

func TestRotationDue(t *testing.T) {
	period := 90 * 24 * time.Hour
	k := Rotate(nil, "AES-256-GCM", material(1), t0, 2)
	tests := map[string]struct {
		k        *Keyring
		now      time.Time
		onDemand bool
		wantDue  bool
		wantNext time.Time
	}{
		"no keyring yet":            {now: t0, wantDue: true, wantNext: t0.Add(period)},
		"fresh":                     {k: k, now: t0.Add(time.Hour), wantNext: t0.Add(period)},
		"one second before due":     {k: k, now: t0.Add(period - time.Second), wantNext: t0.Add(period)},
		"exactly due":               {k: k, now: t0.Add(period), wantDue: true, wantNext: t0.Add(2 * period)},
		"long overdue":              {k: k, now: t0.Add(3 * period), wantDue: true, wantNext: t0.Add(4 * period)},
		"on demand":                 {k: k, now: t0.Add(time.Hour), onDemand: true, wantDue: true, wantNext: t0.Add(time.Hour + period)},
		"clock skew: created later": {k: k, now: t0.Add(-time.Hour), wantNext: t0.Add(period)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			due, next := RotationDue(tc.k, period, tc.now, tc.onDemand)
			if due != tc.wantDue || !next.Equal(tc.wantNext) {
				t.Errorf("RotationDue = %v, %s; want %v, %s", due, next, tc.wantDue, tc.wantNext)
			}
		})
	}
}

func TestRotateRetentionAndOrder(t *testing.T) {
	tests := map[string]struct {
		rotations, retain int
		wantVersions      []int32
	}{
		"first version":            {rotations: 1, retain: 2, wantVersions: []int32{1}},
		"within retention":         {rotations: 3, retain: 2, wantVersions: []int32{1, 2, 3}},
		"oldest trimmed":           {rotations: 5, retain: 2, wantVersions: []int32{3, 4, 5}},
		"retain none keeps active": {rotations: 4, retain: 0, wantVersions: []int32{4}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var k *Keyring
			for i := range tc.rotations {
				prev := k
				k = Rotate(k, "AES-256-GCM", material(byte(i)), t0.Add(time.Duration(i)*time.Hour), tc.retain)
				if prev != nil && len(prev.Versions) > 0 && prev.Versions[len(prev.Versions)-1].Version != int32(i) {
					t.Fatal("Rotate modified its input")
				}
			}
			if got := k.VersionNumbers(); !equal(got, tc.wantVersions) {
				t.Errorf("versions = %v, want %v", got, tc.wantVersions)
			}
			if k.Active != tc.wantVersions[len(tc.wantVersions)-1] {
				t.Errorf("active = %d, want the newest", k.Active)
			}
			if err := k.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

func equal(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// AddVersion never drops a version: retention is the operator's decision (its trim guard).
func TestAddVersionKeepsEveryVersion(t *testing.T) {
	var k *Keyring
	for i := range 5 {
		k = AddVersion(k, "AES-256-GCM", material(byte(i)), t0.Add(time.Duration(i)*time.Hour))
	}
	if got := k.VersionNumbers(); !equal(got, []int32{1, 2, 3, 4, 5}) || k.Active != 5 {
		t.Errorf("versions = %v active %d, want 1..5 active 5", got, k.Active)
	}
	if got := Trim(k, 1).VersionNumbers(); !equal(got, []int32{4, 5}) {
		t.Errorf("Trim(1) = %v, want [4 5]", got)
	}
}

func TestParseRoundTripAndValidation(t *testing.T) {
	k := Rotate(Rotate(nil, "AES-256-GCM", material(1), t0, 2), "AES-256-GCM", material(3), t0.Add(time.Hour), 2)
	raw, err := k.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := back.Marshal()
	if !bytes.Equal(raw, again) {
		t.Error("parse and marshal are not a stable round trip: steady state would write")
	}
	bad := map[string]string{
		"not json":       `{`,
		"no versions":    `{"algorithm":"AES-256-GCM","active":1,"versions":[]}`,
		"active missing": strings.Replace(string(raw), `"active":2`, `"active":7`, 1),
		"short key":      `{"algorithm":"AES-256-GCM","active":1,"versions":[{"version":1,"created":"2026-01-01T00:00:00Z","encryptionKey":"AAAA","hmacKey":"AAAA"}]}`,
	}
	for name, data := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(data))
			if err == nil {
				t.Fatal("accepted an invalid keyring")
			}
			if strings.Contains(err.Error(), "AAAA") {
				t.Errorf("error reveals key material: %v", err)
			}
		})
	}
}

func TestNewMaterialIsRandomAndSized(t *testing.T) {
	a, err := NewMaterial(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewMaterial(nil)
	if len(a.EncryptionKey) != KeySize || len(a.HMACKey) != KeySize {
		t.Fatalf("sizes %d/%d", len(a.EncryptionKey), len(a.HMACKey))
	}
	if a.Equal(b) || bytes.Equal(a.EncryptionKey, a.HMACKey) {
		t.Error("material repeats")
	}
}

// FuzzRotateNeverLosesTheActiveVersion drives arbitrary sequences of rotations and retention
// settings: the active version must always be present, newest, and the keyring valid.
func FuzzRotateNeverLosesTheActiveVersion(f *testing.F) {
	f.Add([]byte{2, 2, 0, 5, 1})
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{16, 1, 9, 0, 16, 3})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var k *Keyring
		now := t0
		for i, op := range ops {
			retain := int(op % 17)
			now = now.Add(time.Duration(op) * time.Minute)
			k = Rotate(k, "AES-256-GCM", material(byte(i)), now, retain)
			if err := k.Validate(); err != nil {
				t.Fatalf("after op %d: %v", i, err)
			}
			if k.Active != k.Versions[len(k.Versions)-1].Version || len(k.Versions) > retain+1 {
				t.Fatalf("after op %d: active %d versions %v retain %d", i, k.Active, k.VersionNumbers(), retain)
			}
			raw, _ := k.Marshal()
			if _, err := Parse(raw); err != nil {
				t.Fatalf("after op %d: rendered keyring does not parse: %v", i, err)
			}
		}
	})
}

func TestFingerprintNamesTheKeysWithoutThem(t *testing.T) {
	key := func(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }
	a := Version{EncryptionKey: key(1), HMACKey: key(2)}
	tests := map[string]struct {
		other Version
		same  bool
	}{
		"same keys, another version number": {other: Version{Version: 7, EncryptionKey: key(1), HMACKey: key(2)}, same: true},
		"another encryption key":            {other: Version{EncryptionKey: key(3), HMACKey: key(2)}},
		"another HMAC key":                  {other: Version{EncryptionKey: key(1), HMACKey: key(3)}},
		"keys swapped":                      {other: Version{EncryptionKey: key(2), HMACKey: key(1)}},
	}
	fp := a.Fingerprint()
	if len(fp) != 16 || strings.Contains(hex.EncodeToString(a.EncryptionKey), fp) || strings.Contains(hex.EncodeToString(a.HMACKey), fp) {
		t.Fatalf("fingerprint %q: want 16 hex digits that are no part of a key", fp)
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.other.Fingerprint() == fp; got != tc.same {
				t.Errorf("same fingerprint = %v, want %v", got, tc.same)
			}
		})
	}
}

func TestStartAfterNumbersPastTheLostVersion(t *testing.T) {
	k := StartAfter(4, "AES-256-GCM", material(1), t0)
	if err := k.Validate(); err != nil || k.Active != 5 || len(k.Versions) != 1 {
		t.Fatalf("StartAfter(4): active %d versions %v, %v", k.Active, k.VersionNumbers(), err)
	}
}
