package syncrun

import (
	"context"
	"strings"
	"testing"

	"github.com/tenantwire/tenantwire/internal/mappingseal"
)

func TestSealedRefreshTokens(t *testing.T) {
	st := openSQLite(t)
	k := newKeyring(t, 1, 1)
	tokens := sealedRefreshTokens{store: st, codec: mappingseal.Codec{Tenant: "acme", Keyring: k}, integration: "cerbo-to-quickbooks"}
	if got, err := tokens.Load("quickbooks", "rt-1"); err != nil || got != "" {
		t.Fatalf("nothing saved: Load = %q, %v", got, err)
	}
	if err := tokens.Save("quickbooks", "rt-1", "rt-9"); err != nil {
		t.Fatal(err)
	}
	raw, err := st.Cursor(context.Background(), tokens.name("quickbooks"))
	if err != nil || strings.Contains(raw, "rt-") {
		t.Fatalf("stored %q (%v): the token must be sealed", raw, err)
	}
	tests := map[string]struct {
		system, mounted, want string
	}{
		"same mounted token":              {"quickbooks", "rt-1", "rt-9"},
		"the vault's token changed: wins": {"quickbooks", "rt-new", ""},
		"another system":                  {"zoho", "rt-1", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got, err := tokens.Load(tc.system, tc.mounted); err != nil || got != tc.want {
				t.Fatalf("Load = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
