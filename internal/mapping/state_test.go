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
