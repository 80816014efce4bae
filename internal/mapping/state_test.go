package mapping

import (
	"errors"
	"strings"
	"testing"
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
