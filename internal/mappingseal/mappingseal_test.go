package mappingseal

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/keyring"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

func material(b byte) keyring.Material {
	return keyring.Material{EncryptionKey: bytes.Repeat([]byte{b}, keyring.KeySize), HMACKey: bytes.Repeat([]byte{b + 100}, keyring.KeySize)}
}

// ring returns a keyring with versions 1..n, the newest active.
func ring(n int, seed byte) *keyring.Keyring {
	var k *keyring.Keyring
	for i := range n {
		k = keyring.Rotate(k, "AES-256-GCM", material(seed+byte(i)), t0.Add(time.Duration(i)*time.Hour), n)
	}
	return k
}

func patient() Record {
	return Record{IDs: map[string]string{"cerbo": "P-10042", "quickbooks": "QB-77", "zoho": "Z-3"}}
}

func mustToken(t *testing.T, c Codec, system, id string) Token {
	t.Helper()
	tok, err := c.Token(system, id)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestOpen(t *testing.T) {
	k := ring(2, 1)
	codec := Codec{Tenant: "clinic-a", Keyring: k}
	token := mustToken(t, codec, "cerbo", "P-10042")
	other := mustToken(t, codec, "cerbo", "P-10043")
	sealed, err := codec.Seal(token, patient())
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) Sealed {
		d := bytes.Clone(sealed.Data)
		d[i] ^= 1
		return Sealed{Version: sealed.Version, Data: d}
	}

	tests := map[string]struct {
		codec   Codec
		token   Token
		sealed  Sealed
		wantErr error
	}{
		"round trip":                  {codec: codec, token: token, sealed: sealed},
		"wrong tenant":                {codec: Codec{Tenant: "clinic-b", Keyring: k}, token: token, sealed: sealed, wantErr: ErrTampered},
		"wrong key, same versions":    {codec: Codec{Tenant: "clinic-a", Keyring: ring(2, 50)}, token: token, sealed: sealed, wantErr: ErrTampered},
		"tampered nonce":              {codec: codec, token: token, sealed: flip(0), wantErr: ErrTampered},
		"tampered ciphertext":         {codec: codec, token: token, sealed: flip(NonceSize + 1), wantErr: ErrTampered},
		"tampered tag":                {codec: codec, token: token, sealed: flip(len(sealed.Data) - 1), wantErr: ErrTampered},
		"truncated":                   {codec: codec, token: token, sealed: Sealed{Version: sealed.Version, Data: sealed.Data[:NonceSize+3]}, wantErr: ErrTampered},
		"empty":                       {codec: codec, token: token, sealed: Sealed{Version: sealed.Version}, wantErr: ErrTampered},
		"tampered version (retained)": {codec: codec, token: token, sealed: Sealed{Version: 1, Data: sealed.Data}, wantErr: ErrTampered},
		"unknown version":             {codec: codec, token: token, sealed: Sealed{Version: 9, Data: sealed.Data}, wantErr: ErrUnknownVersion},
		"moved to another row":        {codec: codec, token: other, sealed: sealed, wantErr: ErrTampered},
		"token of another version":    {codec: codec, token: Token{Version: 1, Sum: token.Sum}, sealed: sealed, wantErr: ErrTampered},
		"keyring destroyed":           {codec: Codec{Tenant: "clinic-a"}, token: token, sealed: sealed, wantErr: ErrUnknownVersion},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tc.codec.Open(tc.token, tc.sealed)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Open error = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				for _, secret := range []string{"P-10042", "QB-77", "clinic-a"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error %q reveals %q", err, secret)
					}
				}
				return
			}
			if len(got.IDs) != 3 || got.IDs["quickbooks"] != "QB-77" || got.IDs["cerbo"] != "P-10042" {
				t.Errorf("Open = %v, want %v", got, patient())
			}
		})
	}
}

func TestSeal(t *testing.T) {
	k := ring(2, 1)
	codec := Codec{Tenant: "clinic-a", Keyring: k}
	active := mustToken(t, codec, "cerbo", "P-1")
	old, err := codec.TokenAt(1, "cerbo", "P-1")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		codec   Codec
		token   Token
		wantErr error
	}{
		"active token":        {codec: codec, token: active},
		"old token":           {codec: codec, token: old, wantErr: ErrNotActive},
		"no keyring":          {codec: Codec{Tenant: "clinic-a"}, token: active, wantErr: ErrUnknownVersion},
		"no nonce randomness": {codec: Codec{Tenant: "clinic-a", Keyring: k, Rand: bytes.NewReader(nil)}, token: active, wantErr: io.EOF},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, err := tc.codec.Seal(tc.token, patient())
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Seal error = %v, want %v", err, tc.wantErr)
			}
			if err == nil && s.Version != k.Active {
				t.Errorf("sealed under version %d, want active %d", s.Version, k.Active)
			}
		})
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	codec := Codec{Tenant: "clinic-a", Keyring: ring(1, 1)}
	tok := mustToken(t, codec, "cerbo", "P-1")
	a, _ := codec.Seal(tok, patient())
	b, _ := codec.Seal(tok, patient())
	if bytes.Equal(a.Data[:NonceSize], b.Data[:NonceSize]) || bytes.Equal(a.Data, b.Data) {
		t.Error("two seals of the same record share a nonce")
	}
	if bytes.Contains(a.Data, []byte("P-10042")) {
		t.Error("sealed data contains a patient ID in clear")
	}
}

func TestTokens(t *testing.T) {
	k := ring(3, 1)
	codec := Codec{Tenant: "clinic-a", Keyring: k}
	tok := func(c Codec, v int32, system, id string) Token {
		t.Helper()
		tk, err := c.TokenAt(v, system, id)
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	tests := map[string]struct {
		a, b  Token
		equal bool
	}{
		"deterministic":                 {a: tok(codec, 3, "cerbo", "1"), b: tok(codec, 3, "cerbo", "1"), equal: true},
		"id differs":                    {a: tok(codec, 3, "cerbo", "1"), b: tok(codec, 3, "cerbo", "2")},
		"system differs":                {a: tok(codec, 3, "cerbo", "1"), b: tok(codec, 3, "zoho", "1")},
		"tenant differs":                {a: tok(codec, 3, "cerbo", "1"), b: tok(Codec{Tenant: "clinic-b", Keyring: k}, 3, "cerbo", "1")},
		"version differs":               {a: tok(codec, 3, "cerbo", "1"), b: tok(codec, 2, "cerbo", "1")},
		"field boundary system|id":      {a: tok(codec, 3, "ab", "c"), b: tok(codec, 3, "a", "bc")},
		"field boundary tenant|system":  {a: tok(Codec{Tenant: "ab", Keyring: k}, 3, "c", "1"), b: tok(Codec{Tenant: "a", Keyring: k}, 3, "bc", "1")},
		"empty fields are still framed": {a: tok(Codec{Tenant: "", Keyring: k}, 3, "x", ""), b: tok(Codec{Tenant: "x", Keyring: k}, 3, "", "")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if (tc.a == tc.b) != tc.equal {
				t.Errorf("tokens equal = %v, want %v", tc.a == tc.b, tc.equal)
			}
		})
	}

	t.Run("every retained version, active first", func(t *testing.T) {
		got := codec.Tokens("cerbo", "1")
		var versions []int32
		for _, g := range got {
			versions = append(versions, g.Version)
			if g != tok(codec, g.Version, "cerbo", "1") {
				t.Errorf("Tokens version %d differs from TokenAt", g.Version)
			}
		}
		if want := []int32{3, 2, 1}; len(versions) != 3 || versions[0] != want[0] || versions[1] != want[1] || versions[2] != want[2] {
			t.Errorf("Tokens versions = %v, want %v", versions, want)
		}
	})
	t.Run("unknown version", func(t *testing.T) {
		if _, err := codec.TokenAt(7, "cerbo", "1"); !errors.Is(err, ErrUnknownVersion) {
			t.Errorf("TokenAt(7) error = %v, want ErrUnknownVersion", err)
		}
		if got := (Codec{Tenant: "clinic-a"}).Tokens("cerbo", "1"); len(got) != 0 {
			t.Errorf("Tokens without a keyring = %v, want none", got)
		}
	})
}

func FuzzOpen(f *testing.F) {
	// A fixed nonce source: the fuzz workers are separate processes and must agree on the seed.
	codec := Codec{Tenant: "clinic-a", Keyring: ring(2, 1), Rand: bytes.NewReader(make([]byte, NonceSize))}
	tok, _ := codec.Token("cerbo", "P-1")
	s, _ := codec.Seal(tok, patient())
	f.Add(int32(2), int32(2), tok.Sum[:], s.Data)
	f.Add(int32(1), int32(2), []byte{}, []byte{})
	f.Add(int32(-1), int32(0), tok.Sum[:3], s.Data[:NonceSize])
	f.Fuzz(func(t *testing.T, version, tokenVersion int32, sum, data []byte) {
		var tk Token
		tk.Version = tokenVersion
		copy(tk.Sum[:], sum)
		r, err := codec.Open(tk, Sealed{Version: version, Data: data})
		if err == nil && (version != s.Version || tk != tok || !bytes.Equal(data, s.Data)) {
			t.Fatalf("Open accepted a forged value: %v", r)
		}
		if err != nil && !errors.Is(err, ErrTampered) && !errors.Is(err, ErrUnknownVersion) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}
