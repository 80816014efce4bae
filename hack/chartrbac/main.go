// Command chartrbac writes the Helm chart's RBAC, admission policy and CRD templates from the
// kustomize bases config/rbac, config/admission and config/crd, so that the chart and
// `kustomize build config/default` grant, enforce and serve exactly the same. It keeps kinds, names, rules, role references, subjects and
// policies as they are, and changes only what differs between the two installs: the namespace
// becomes the release namespace and the labels come from the chart's label helper. In admission
// policies the install namespace also appears inside CEL expressions (the operator's ServiceAccount
// user name), and every occurrence becomes the release namespace. CRDs keep their annotations and
// gain helm.sh/resource-policy: keep and the Argo CD and Flux prune-disable annotations when
// crds.keep is true; they are templates rather than files in
// the chart's crds/ directory because Helm installs that directory once and never upgrades it.
// hack/sync-chart.sh and hack/sync-chart-rbac.sh run it from `make manifests`.
//
//	go run ./hack/chartrbac -base config/rbac -namespace tenantwire-system -out charts/tenantwire/templates/rbac
//	go run ./hack/chartrbac -base config/admission -kinds admission -if admission.enabled -namespace tenantwire-system -out charts/tenantwire/templates/admission
//	go run ./hack/chartrbac -base config/crd -kinds crd -if crds.enabled -out charts/tenantwire/templates/crds
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// The kinds a base may hold, by -kinds. Anything else belongs in another kustomize base and chart
// template.
var kindSets = map[string]map[string]bool{
	"rbac": {
		"ServiceAccount":     true,
		"Role":               true,
		"RoleBinding":        true,
		"ClusterRole":        true,
		"ClusterRoleBinding": true,
	},
	"admission": {
		"ValidatingAdmissionPolicy":        true,
		"ValidatingAdmissionPolicyBinding": true,
	},
	"crd": {
		"CustomResourceDefinition": true,
	},
}

// keepAnnotation is written on the chart's CRDs when crds.keep is true: Helm then leaves them (and
// with them every Tenant, Integration and KeyPolicy) in place on uninstall or when crds.enabled
// is turned off. Argo CD and Flux, which may render the chart themselves and prune what leaves
// it, get their own prune-disable annotations, as the kustomize install's CRDs carry
// (config/crd/kustomization.yaml): Argo CD honours the Helm annotation only from 2.8 on.
const keepAnnotation = `{{- if .Values.crds.keep }}
    helm.sh/resource-policy: keep
    argocd.argoproj.io/sync-options: Prune=false
    kustomize.toolkit.fluxcd.io/prune: disabled
    {{- end }}`

// Labels the chart's "tenantwire.labels" helper sets; a source label with one of these keys would
// be set twice.
var helperLabels = map[string]bool{
	"app.kubernetes.io/name":       true,
	"app.kubernetes.io/instance":   true,
	"app.kubernetes.io/version":    true,
	"app.kubernetes.io/managed-by": true,
	"helm.sh/chart":                true,
}

// releaseNamespace stands in for the namespace while marshalling; it becomes a template action after.
const releaseNamespace = "RELEASE-NAMESPACE-PLACEHOLDER"

func main() {
	base := flag.String("base", "config/rbac", "kustomize base (its kustomization.yaml lists the files)")
	kinds := flag.String("kinds", "rbac", "what the base holds: rbac, admission or crd")
	namespace := flag.String("namespace", "tenantwire-system", "the namespace the kustomize base uses, replaced by the release namespace")
	outDir := flag.String("out", "charts/tenantwire/templates/rbac", "chart template directory to write (its *.yaml files are replaced)")
	cond := flag.String("if", "", "a boolean value (e.g. admission.enabled) that renders the templates only when true; empty renders them always")
	flag.Parse()
	g := generator{kinds: kindSets[*kinds], admission: *kinds == "admission", crd: *kinds == "crd", namespace: *namespace, cond: *cond}
	if g.kinds == nil {
		fmt.Fprintf(os.Stderr, "chartrbac: -kinds %q: want rbac, admission or crd\n", *kinds)
		os.Exit(2)
	}
	if err := g.run(*base, *outDir); err != nil {
		fmt.Fprintln(os.Stderr, "chartrbac:", err)
		os.Exit(1)
	}
}

// generator turns one kustomize base into chart templates.
type generator struct {
	kinds map[string]bool
	// admission: the install namespace is replaced in every string of the body, CEL included;
	// otherwise only in RBAC subjects.
	admission bool
	// crd: the objects are CustomResourceDefinitions, which keep their annotations and gain the
	// resource-policy annotation when crds.keep is true.
	crd       bool
	namespace string
	// cond is the value that switches the templates on; empty: always rendered.
	cond string
}

func (g generator) run(base, outDir string) error {
	files, err := kustomizeResources(base)
	if err != nil {
		return err
	}
	out := map[string][]byte{}
	for _, f := range files {
		src := filepath.ToSlash(filepath.Join(base, f))
		data, err := os.ReadFile(filepath.Join(base, f))
		if err != nil {
			return err
		}
		tmpl, err := g.templateFor(src, data)
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		out[filepath.Base(f)] = tmpl
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	// Remove templates whose source is gone, so a deleted role does not live on in the chart.
	old, err := filepath.Glob(filepath.Join(outDir, "*.yaml"))
	if err != nil {
		return err
	}
	for _, o := range old {
		if _, keep := out[filepath.Base(o)]; !keep {
			if err := os.Remove(o); err != nil {
				return err
			}
		}
	}
	for name, tmpl := range out {
		if err := os.WriteFile(filepath.Join(outDir, name), tmpl, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// kustomizeResources lists the files of the base in the order kustomize reads them.
func kustomizeResources(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		return nil, fmt.Errorf("%s/kustomization.yaml: %w", dir, err)
	}
	for _, r := range k.Resources {
		if strings.HasPrefix(filepath.Clean(r), "..") || !strings.HasSuffix(r, ".yaml") {
			return nil, fmt.Errorf("%s/kustomization.yaml: resource %q is not a file of this base", dir, r)
		}
	}
	return k.Resources, nil
}

// templateFor turns one multi-document source file into a chart template.
func (g generator) templateFor(src string, data []byte) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "{{- /* Code generated by make manifests (hack/chartrbac) from %s. DO NOT EDIT. */}}\n", src)
	if g.cond != "" {
		fmt.Fprintf(&b, "{{- if .Values.%s }}\n", g.cond)
	}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	n := 0
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		obj := map[string]any{}
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return nil, err
		}
		if len(obj) == 0 {
			continue // an empty document, e.g. before controller-gen's leading "---"
		}
		if n > 0 {
			b.WriteString("---\n")
		}
		n++
		if err := g.writeObject(&b, leadingComments(doc), obj); err != nil {
			return nil, err
		}
	}
	if n == 0 {
		return nil, errors.New("no objects")
	}
	if g.cond != "" {
		b.WriteString("{{- end }}\n")
	}
	return b.Bytes(), nil
}

// leadingComments keeps the comment lines above an object: they say why a role exists.
func leadingComments(doc []byte) []string {
	var comments []string
	for _, line := range strings.Split(string(doc), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || t == "---" {
			continue
		}
		if !strings.HasPrefix(t, "#") {
			break
		}
		comments = append(comments, t)
	}
	return comments
}

func (g generator) writeObject(b *bytes.Buffer, comments []string, obj map[string]any) error {
	namespace := g.namespace
	kind, _ := obj["kind"].(string)
	apiVersion, _ := obj["apiVersion"].(string)
	if !g.kinds[kind] {
		return fmt.Errorf("kind %q is not one this base may hold", kind)
	}
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	if name == "" {
		return fmt.Errorf("a %s without metadata.name", kind)
	}
	for k := range meta {
		if k == "annotations" && g.crd {
			continue
		}
		if k != "name" && k != "namespace" && k != "labels" {
			return fmt.Errorf("%s %s: metadata.%s is not carried into the chart; add support for it here", kind, name, k)
		}
	}
	ns, hasNS := meta["namespace"].(string)
	if hasNS && ns != namespace {
		return fmt.Errorf("%s %s: namespace %q, want %q (the install namespace)", kind, name, ns, namespace)
	}
	labels, _ := meta["labels"].(map[string]any)
	var extra []string
	for k, v := range labels {
		if k == "app.kubernetes.io/name" {
			continue // the helper sets it
		}
		if helperLabels[k] {
			return fmt.Errorf("%s %s: label %s is set by the chart's label helper", kind, name, k)
		}
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s %s: label %s is not a string", kind, name, k)
		}
		line, err := yaml.Marshal(map[string]string{k: s})
		if err != nil {
			return err
		}
		extra = append(extra, "    "+strings.TrimSpace(string(line)))
	}
	sort.Strings(extra)

	body := map[string]any{}
	for k, v := range obj {
		if k != "apiVersion" && k != "kind" && k != "metadata" {
			body[k] = v
		}
	}
	if g.admission {
		body = placeNamespaceInStrings(body, namespace).(map[string]any)
	} else if err := placeSubjectNamespaces(body, namespace); err != nil {
		return fmt.Errorf("%s %s: %w", kind, name, err)
	}
	bodyYAML, err := yaml.Marshal(body)
	if err != nil {
		return err
	}
	if bytes.Contains(bodyYAML, []byte("{{")) {
		return fmt.Errorf("%s %s: contains {{, which Helm would read as a template action", kind, name)
	}

	for _, c := range comments {
		b.WriteString(c + "\n")
	}
	fmt.Fprintf(b, "apiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n", apiVersion, kind, name)
	if hasNS {
		b.WriteString("  namespace: {{ .Release.Namespace }}\n")
	}
	b.WriteString("  labels:\n    {{- include \"tenantwire.labels\" . | nindent 4 }}\n")
	for _, l := range extra {
		b.WriteString(l + "\n")
	}
	if g.crd {
		annotations, err := crdAnnotations(meta)
		if err != nil {
			return fmt.Errorf("%s %s: %w", kind, name, err)
		}
		b.WriteString("  annotations:\n    " + keepAnnotation + "\n")
		for _, a := range annotations {
			b.WriteString(a + "\n")
		}
	}
	if len(body) > 0 {
		b.Write(bytes.ReplaceAll(bodyYAML, []byte(releaseNamespace), []byte("{{ .Release.Namespace }}")))
	}
	return nil
}

// crdAnnotations are a CRD's own annotations (controller-gen's version) as template lines.
func crdAnnotations(meta map[string]any) ([]string, error) {
	annotations, _ := meta["annotations"].(map[string]any)
	var lines []string
	for k, v := range annotations {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("annotation %s is not a string", k)
		}
		line, err := yaml.Marshal(map[string]string{k: s})
		if err != nil {
			return nil, err
		}
		lines = append(lines, "    "+strings.TrimSpace(string(line)))
	}
	sort.Strings(lines)
	return lines, nil
}

// placeSubjectNamespaces points subjects in the install namespace at the release namespace.
func placeSubjectNamespaces(body map[string]any, namespace string) error {
	subjects, _ := body["subjects"].([]any)
	for _, s := range subjects {
		subject, _ := s.(map[string]any)
		ns, ok := subject["namespace"].(string)
		if !ok {
			continue
		}
		if ns != namespace {
			return fmt.Errorf("subject %v: namespace %q, want %q (the install namespace)", subject["name"], ns, namespace)
		}
		subject["namespace"] = releaseNamespace
	}
	return nil
}

// placeNamespaceInStrings points every mention of the install namespace in an admission policy
// (the operator's user name and namespace in CEL expressions and messages) at the release namespace.
func placeNamespaceInStrings(v any, namespace string) any {
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(v, namespace, releaseNamespace)
	case map[string]any:
		for k, e := range v {
			v[k] = placeNamespaceInStrings(e, namespace)
		}
	case []any:
		for i, e := range v {
			v[i] = placeNamespaceInStrings(e, namespace)
		}
	}
	return v
}
