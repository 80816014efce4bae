package manifests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// docFragments are the YAML blocks in the docs that are excerpts, not objects, so no API server can
// check them. A new fragment is a choice: list it here, keyed by its file and its first two lines.
var docFragments = map[string]string{
	"README.md: spec: | state: Offboarding":                          "the fields a Tenant sets to offboard, shown on their own",
	`docs/operations.md: status: | purgedAt: "2026-12-03T12:00:01Z"`: "a purged Tenant's status, shown on its own: the purge record",
}

// docKindsNotServed are kinds the docs show whose CRDs the test API server does not install.
var docKindsNotServed = map[string]string{
	"kustomize.toolkit.fluxcd.io/v1, Kind=Kustomization": "Flux's own kind (docs/gitops.md); the test does not install Flux",
}

// docExample is one YAML document of a fenced yaml block in the docs.
type docExample struct {
	source string // file:line of the block
	obj    *unstructured.Unstructured
}

// docSources are the Markdown files whose YAML examples users copy.
func docSources(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{filepath.Join(root, "README.md")}, files...)
}

// yamlBlock is the body of one fenced yaml block.
type yamlBlock struct {
	source string
	body   []byte
}

// yamlBlocks returns the fenced ```yaml (or ```yml) blocks of a Markdown file, indentation kept.
func yamlBlocks(rel string, md []byte) ([]yamlBlock, error) {
	var blocks []yamlBlock
	var cur *yamlBlock
	s := bufio.NewScanner(bytes.NewReader(md))
	s.Buffer(nil, 1<<20)
	for n := 1; s.Scan(); n++ {
		line := s.Text()
		fence := strings.TrimSpace(line)
		switch {
		case cur == nil && (fence == "```yaml" || fence == "```yml"):
			cur = &yamlBlock{source: fmt.Sprintf("%s:%d", rel, n)}
		case cur != nil && fence == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.body = append(cur.body, line+"\n"...)
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s: yaml block never closed", cur.source)
	}
	return blocks, s.Err()
}

// fragmentKey names a fragment by its file and its first two non-blank lines, trimmed.
func fragmentKey(source string, body []byte) string {
	var lines []string
	for _, l := range strings.Split(string(body), "\n") {
		if l = strings.TrimSpace(l); l != "" && len(lines) < 2 {
			lines = append(lines, l)
		}
	}
	file, _, _ := strings.Cut(source, ":")
	return file + ": " + strings.Join(lines, " | ")
}

// docExamples splits every yaml block of the docs into documents. Objects of kinds the test API
// server serves are returned; fragments and objects of other kinds must be listed above, and a
// listed entry that no longer matches anything is an error too, so the lists stay current.
func docExamples(t testing.TB) []docExample {
	t.Helper()
	var examples []docExample
	usedFragments, usedKinds := map[string]bool{}, map[string]bool{}
	for _, path := range docSources(t) {
		rel, err := filepath.Rel(root, path)
		if err != nil {
			t.Fatal(err)
		}
		md, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := yamlBlocks(rel, md)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range blocks {
			docs, err := splitYAML(b.body)
			if err != nil {
				t.Errorf("%s: not valid YAML: %v", b.source, err)
				continue
			}
			for _, m := range docs {
				obj := &unstructured.Unstructured{Object: m}
				if obj.GetAPIVersion() == "" || obj.GetKind() == "" {
					key := fragmentKey(b.source, b.body)
					if _, ok := docFragments[key]; !ok {
						t.Errorf("%s: a YAML block without apiVersion and kind; complete the object, or list %q in docFragments with the reason it is an excerpt", b.source, key)
					}
					usedFragments[key] = true
					continue
				}
				gvk := obj.GroupVersionKind().String()
				if _, ok := docKindsNotServed[gvk]; ok {
					usedKinds[gvk] = true
					continue
				}
				examples = append(examples, docExample{source: b.source, obj: obj})
			}
		}
	}
	for key := range docFragments {
		if !usedFragments[key] {
			t.Errorf("docFragments lists %q, which no doc contains any more", key)
		}
	}
	for gvk := range docKindsNotServed {
		if !usedKinds[gvk] {
			t.Errorf("docKindsNotServed lists %s, which no doc shows any more", gvk)
		}
	}
	return examples
}

// splitYAML decodes a multi-document YAML stream, skipping empty documents. Strictly: a key given
// twice is an error, as kubectl would refuse it.
func splitYAML(data []byte) ([]map[string]any, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs []map[string]any
	for {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := yaml.UnmarshalStrict(raw, &m); err != nil {
			return nil, err
		}
		if len(m) > 0 {
			docs = append(docs, m)
		}
	}
}

// docExampleSets renders each doc example as its own manifest, named by where it is, and returns
// the namespaces they need.
func docExampleSets(t testing.TB) (sets map[string][]byte, namespaces []string) {
	t.Helper()
	sets = map[string][]byte{}
	for _, ex := range docExamples(t) {
		b, err := yaml.Marshal(ex.obj.Object)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("doc example %s %s %s", ex.source, ex.obj.GetKind(), ex.obj.GetName())
		sets[name] = b
		if ns := ex.obj.GetNamespace(); ns != "" && !slices.Contains(namespaces, ns) {
			namespaces = append(namespaces, ns)
		}
	}
	return sets, namespaces
}

// TestDocFragmentsAreListed runs without an API server: the docs' YAML parses, and what is not an
// object the API server can check is listed with a reason.
func TestDocFragmentsAreListed(t *testing.T) {
	if len(docExamples(t)) == 0 {
		t.Fatal("no YAML examples found in README.md and docs/")
	}
}

func TestYAMLBlocksAndFragmentKeys(t *testing.T) {
	md := "text\n```yaml\napiVersion: v1\nkind: ConfigMap\n---\n```\n\n```sh\nkubectl get x\n```\n  ```yaml\n  spec:\n    state: Offboarding\n  ```\n"
	blocks, err := yamlBlocks("README.md", []byte(md))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 || blocks[0].source != "README.md:2" || blocks[1].source != "README.md:11" {
		t.Fatalf("blocks = %+v, want two, at lines 2 and 11", blocks)
	}
	if got, want := fragmentKey(blocks[1].source, blocks[1].body), "README.md: spec: | state: Offboarding"; got != want {
		t.Errorf("fragmentKey = %q, want %q", got, want)
	}
	if _, err := yamlBlocks("x.md", []byte("```yaml\nkind: A\n")); err == nil {
		t.Error("an unclosed block was accepted")
	}
}
