package mappingseal

import (
	"errors"
	"strings"
	"testing"

	"github.com/tenantwire/tenantwire/internal/keyring"
)

func TestCursorSealing(t *testing.T) {
	k := ring(2, 1)
	c := Codec{Tenant: "acme", Keyring: k}
	sealed, err := c.SealState("sync/cerbo", "contact-4711")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "4711") {
		t.Fatal("the sealed cursor shows its content")
	}
	tests := map[string]struct {
		codec   Codec
		name    string
		sealed  string
		want    string
		wantErr error
	}{
		"round trip":      {codec: c, name: "sync/cerbo", sealed: sealed, want: "contact-4711"},
		"other cursor":    {codec: c, name: "sync/zoho", sealed: sealed, wantErr: ErrTampered},
		"other tenant":    {codec: Codec{Tenant: "other", Keyring: k}, name: "sync/cerbo", sealed: sealed, wantErr: ErrTampered},
		"trimmed version": {codec: Codec{Tenant: "acme", Keyring: ring(1, 1)}, name: "sync/cerbo", sealed: sealed, wantErr: ErrUnknownVersion},
		"tampered":        {codec: c, name: "sync/cerbo", sealed: sealed[:len(sealed)-2] + "AA", wantErr: ErrTampered},
		"not sealed":      {codec: c, name: "sync/cerbo", sealed: "2026-11-25T00:00:00Z", wantErr: ErrMalformed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tc.codec.OpenState(tc.name, tc.sealed)
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Fatalf("OpenState = %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	c := Codec{Tenant: "acme", Keyring: ring(2, 1)}
	key := func(c Codec, integration, system, id string) string {
		t.Helper()
		k, err := c.IdempotencyKey(integration, system, id)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := key(c, "cerbo-to-qb", "cerbo", "P-10042")
	if base != key(c, "cerbo-to-qb", "cerbo", "P-10042") || len(base) != 32 || strings.Contains(base, "10042") {
		t.Fatalf("key %q: want a stable 32-hex key that does not show the ID", base)
	}
	for name, other := range map[string]string{
		"other integration": key(c, "cerbo-to-zoho", "cerbo", "P-10042"),
		"other system":      key(c, "cerbo-to-qb", "zoho", "P-10042"),
		"other patient":     key(c, "cerbo-to-qb", "cerbo", "P-10043"),
		"other tenant":      key(Codec{Tenant: "other", Keyring: c.Keyring}, "cerbo-to-qb", "cerbo", "P-10042"),
	} {
		if other == base {
			t.Errorf("%s gives the same key", name)
		}
	}
	if _, err := (Codec{Tenant: "acme"}).IdempotencyKey("i", "s", "id"); !errors.Is(err, ErrUnknownVersion) {
		t.Errorf("no keyring: %v", err)
	}
}

func TestResealStateMovesStateOntoTheActiveVersion(t *testing.T) {
	old := Codec{Tenant: "acme", Keyring: ring(1, 1)}
	sealed, err := old.SealState("sync/cerbo", "contact-4711")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := StateVersion(sealed); err != nil || v != 1 {
		t.Fatalf("StateVersion = %d, %v; want 1", v, err)
	}
	rotated := Codec{Tenant: "acme", Keyring: ring(2, 1)}
	resealed, err := rotated.ResealState("sync/cerbo", sealed)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := StateVersion(resealed); v != 2 {
		t.Fatalf("resealed under version %d, want 2", v)
	}
	trimmed := Codec{Tenant: "acme", Keyring: keyring.Trim(rotated.Keyring, 0)}
	if got, err := trimmed.OpenState("sync/cerbo", resealed); err != nil || got != "contact-4711" {
		t.Errorf("after the trim: %q, %v", got, err)
	}
	if _, err := rotated.ResealState("sync/zoho", sealed); !errors.Is(err, ErrTampered) {
		t.Errorf("resealing under another name: %v, want ErrTampered", err)
	}
	if _, err := StateVersion("no-version"); !errors.Is(err, ErrMalformed) {
		t.Errorf("StateVersion of unsealed text: %v, want ErrMalformed", err)
	}
}
