package exportarchive

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

const (
	recipient = "age1gd289yuhm74w4lxwpzd6ln27fvxlgfsfxrj422wkfdjhmck4dq3qez334m"
	// The same key with its checksum broken: the shape CEL accepts, the key age refuses.
	typo = "age1gd289yuhm74w4lxwpzd6ln27fvxlgfsfxrj422wkfdjhmck4dq3qez334n"
)

func TestRefusal(t *testing.T) {
	tests := map[string]struct {
		export twv1.TenantExport
		want   string
	}{
		"sealed":          {export: twv1.TenantExport{Recipients: []twv1.AgeRecipient{recipient}}},
		"plaintext":       {export: twv1.TenantExport{Plaintext: true}},
		"neither":         {export: twv1.TenantExport{}, want: "names no age public key"},
		"both":            {export: twv1.TenantExport{Plaintext: true, Recipients: []twv1.AgeRecipient{recipient}}, want: "exclude each other"},
		"checksum broken": {export: twv1.TenantExport{Recipients: []twv1.AgeRecipient{recipient, typo}}, want: "spec.export.recipients[1] is not a valid"},
		"a secret key":    {export: twv1.TenantExport{Recipients: []twv1.AgeRecipient{"AGE-SECRET-KEY-1QQQQ"}}, want: "spec.export.recipients[0] is not a valid"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Refusal(&tc.export)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("Refusal = %q, want %q", got, tc.want)
			}
			for _, r := range tc.export.Recipients {
				if r != recipient && strings.Contains(got, string(r)) {
					t.Errorf("the refusal repeats the value %s", r)
				}
			}
		})
	}
}

// A manifest names files next to it, never a path elsewhere on the volume.
func TestVerifyRefusesAPathInTheManifest(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "outside"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "req")
	if err := os.Mkdir(sub, 0o750); err != nil {
		t.Fatal(err)
	}
	f, err := Describe(filepath.Join(dir, "outside"))
	if err != nil {
		t.Fatal(err)
	}
	f.Name = "../outside"
	m := filepath.Join(sub, "x"+ManifestSuffix)
	if err := WriteManifest(m, Manifest{Format: Format, Files: []File{f}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(m); err == nil || !strings.Contains(err.Error(), "not a plain file name") {
		t.Fatalf("Verify = %v, want the path refused", err)
	}
}
