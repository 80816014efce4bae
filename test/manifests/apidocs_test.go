package manifests

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// apiReference is the API reference generated from api/v1alpha1 by hack/api-docs.sh (crd-ref-docs).
const apiReference = "docs/api.md"

// The committed API reference must be what the Go types generate: a field, marker or comment
// changed without `make api-docs` (or `make manifests`) fails here.
func TestAPIReferenceIsCurrent(t *testing.T) {
	tool(t, "crd-ref-docs") // build it first, with progress, on a fresh machine
	generated := filepath.Join(t.TempDir(), "api.md")
	if out, err := run(filepath.Join(root, "hack", "api-docs.sh"), generated); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want, err := os.ReadFile(generated)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(want, []byte("#### TenantSpec")) {
		t.Fatalf("the generated reference has no TenantSpec section; did crd-ref-docs read api/?\n%s", want)
	}
	got := readFile(t, apiReference)
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: run make api-docs and commit it.\nfirst difference: %s", apiReference, firstDifference(got, want))
	}
}

// firstDifference names the first line where the committed and the generated text differ.
func firstDifference(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n  committed: " + gl + "\n  generated: " + wl
		}
	}
	return "none (same lines)"
}
