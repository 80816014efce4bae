package manifests

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/tenantwire/tenantwire/internal/manager"
	"github.com/tenantwire/tenantwire/internal/metrics"
	"github.com/tenantwire/tenantwire/internal/syncrun"
)

const operationsDoc = "docs/operations.md"

// docTableRows returns the cells of the Markdown table rows whose first cell is backticked, in
// the section under the "## <heading>" line (up to the next "## ").
func docTableRows(md []byte, heading string) [][]string {
	var rows [][]string
	in := false
	for _, line := range strings.Split(string(md), "\n") {
		if strings.HasPrefix(line, "## ") {
			in = line == "## "+heading
			continue
		}
		if in && strings.HasPrefix(line, "| `") {
			rows = append(rows, strings.Split(strings.Trim(line, "| "), " | "))
		}
	}
	return rows
}

// docTableNames returns the names matching pattern in the first cells of those rows.
func docTableNames(t testing.TB, md []byte, heading string, pattern *regexp.Regexp) []string {
	t.Helper()
	var names []string
	for _, row := range docTableRows(md, heading) {
		for _, m := range pattern.FindAllStringSubmatch(row[0], -1) {
			names = append(names, m[1])
		}
	}
	if len(names) == 0 {
		t.Fatalf("no table rows under %q match %s", "## "+heading, pattern)
	}
	return names
}

// compareNames reports names documented but not defined, and defined but not documented.
func compareNames(t testing.TB, what string, documented, defined []string) {
	t.Helper()
	for _, d := range documented {
		if !slices.Contains(defined, d) {
			t.Errorf("%s documents %s %s, which the binary does not have", operationsDoc, what, d)
		}
	}
	for _, d := range defined {
		if !slices.Contains(documented, d) {
			t.Errorf("the binary has %s %s, which %s does not document", what, d, operationsDoc)
		}
	}
}

var (
	flagCell = regexp.MustCompile("`--([a-z0-9-]+)`")
	// literalCell is a default given as one literal value, not in words.
	literalCell = regexp.MustCompile("^`([^`]*)`$")
)

// Every manager flag is in the flag table of docs/operations.md, and every flag there exists, with
// the default the table gives when it gives one as a literal.
func TestManagerFlagsAreDocumented(t *testing.T) {
	fs := flag.NewFlagSet("tenantwire manager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o manager.Options
	o.BindFlags(fs)
	var defined []string
	fs.VisitAll(func(f *flag.Flag) { defined = append(defined, f.Name) })

	md := readFile(t, operationsDoc)
	compareNames(t, "flag", docTableNames(t, md, "Manager flags", flagCell), defined)

	zapDefaults := map[string]string{}
	for _, row := range docTableRows(md, "Manager flags") {
		m := flagCell.FindStringSubmatch(row[0])
		if m == nil || len(row) < 2 {
			continue
		}
		f := fs.Lookup(m[1])
		literal := literalCell.FindStringSubmatch(row[1])
		if f == nil || literal == nil {
			continue // a default described in words ("the pod's namespace")
		}
		if strings.HasPrefix(f.Name, "zap-") && f.DefValue == "" {
			zapDefaults[f.Name] = literal[1] // computed by controller-runtime: checked on a logger below
			continue
		}
		if literal[1] != f.DefValue {
			t.Errorf("%s gives --%s the default %q; the binary's is %q", operationsDoc, f.Name, literal[1], f.DefValue)
		}
	}
	checkLoggingDefaults(t, o, zapDefaults)
	checkFlagMentions(t, defined)
}

// otherToolsFlags are flags the docs name that belong to other programs, not to the manager.
var otherToolsFlags = map[string]string{
	"help":                 "the flag package's usage, of every tenantwire command",
	"server-side":          "kubectl apply",
	"show-managed-fields":  "kubectl get",
	"type":                 "kubectl patch",
	"oidc-username-prefix": "kube-apiserver",
	"oidc-groups-prefix":   "kube-apiserver",
	// The simulated cluster's controller-manager (README, make run).
	"use-service-account-credentials": "kube-controller-manager",
	// Backups and the purge (docs/operations.md).
	"encryption-provider-config": "kube-apiserver",
	"exclude-resources":          "velero backup and schedule",
}

var (
	// flagMention is a --flag anywhere in prose, a code span or a command line.
	flagMention = regexp.MustCompile("(?m)(?:^|[\\s`(])--([a-z][a-z0-9-]+)")
	// codeSpanFlag is a --flag at the start of a code span.
	codeSpanFlag = regexp.MustCompile("`--[a-z][a-z0-9-]+")
)

// checkFlagMentions: every --flag docs/operations.md names anywhere, and every one the README puts
// in a code span, is the manager's or listed in otherToolsFlags.
func checkFlagMentions(t *testing.T, defined []string) {
	t.Helper()
	used := map[string]bool{}
	check := func(doc string, text string) {
		for _, m := range flagMention.FindAllStringSubmatch(text, -1) {
			name := m[1]
			if _, other := otherToolsFlags[name]; other {
				used[name] = true
			} else if !slices.Contains(defined, name) {
				t.Errorf("%s names --%s, which the manager does not have (another program's? list it in otherToolsFlags)", doc, name)
			}
		}
	}
	check(operationsDoc, string(readFile(t, operationsDoc)))
	check("README.md", strings.Join(codeSpanFlag.FindAllString(string(readFile(t, "README.md")), -1), " "))
	for name := range otherToolsFlags {
		if !used[name] {
			t.Errorf("otherToolsFlags lists --%s, which neither doc names any more", name)
		}
	}
}

// checkLoggingDefaults logs through the manager's logger as main.go builds it, with no flags set,
// and checks what the table says of the defaults controller-runtime computes (its own --help text
// for --zap-time-encoding says epoch, which is not what it does).
func checkLoggingDefaults(t *testing.T, o manager.Options, documented map[string]string) {
	t.Helper()
	want := map[string]string{"zap-log-level": "info", "zap-encoder": "json", "zap-stacktrace-level": "error", "zap-time-encoding": "rfc3339"}
	if !maps.Equal(documented, want) {
		t.Errorf("%s gives the logging defaults %v; the manager's logger does %v", operationsDoc, documented, want)
	}
	var buf bytes.Buffer
	log := zap.New(zap.UseFlagOptions(&o.Zap), zap.WriteTo(&buf))
	log.V(1).Info("debug line")
	log.Info("info line")
	log.Error(errors.New("boom"), "error line")
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 || lines[0]["msg"] != "info line" || lines[1]["msg"] != "error line" {
		t.Fatalf("at the default level the logger wrote %v, want the info and error lines only", lines)
	}
	if _, ok := lines[0]["stacktrace"]; ok {
		t.Error("an info line carries a stack trace")
	}
	if _, ok := lines[1]["stacktrace"]; !ok {
		t.Error("an error line carries no stack trace")
	}
	if ts, _ := lines[0]["ts"].(string); ts == "" {
		t.Errorf("ts = %v, want an RFC 3339 time", lines[0]["ts"])
	} else if _, err := time.Parse(time.RFC3339, ts); err != nil {
		t.Errorf("ts = %q, want an RFC 3339 time: %v", ts, err)
	}
}

var (
	metricCell = regexp.MustCompile("`(tenantwire_[a-z0-9_]+)`")
	// metricMention is a tenantwire_ name anywhere in prose or an example; file names
	// (tenantwire_v1alpha1_tenant.yaml) are not metrics and are skipped by what follows them.
	metricMention = regexp.MustCompile(`tenantwire_[a-z0-9_]+(\.[a-z])?`)
	descName      = regexp.MustCompile(`fqName: "([^"]+)"`)
)

// metricNames are the names of what the collectors describe.
func metricNames(cs ...prometheus.Collector) []string {
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range cs {
			c.Describe(ch)
		}
		close(ch)
	}()
	var names []string
	for d := range ch {
		if m := descName.FindStringSubmatch(d.String()); m != nil && strings.HasPrefix(m[1], "tenantwire_") {
			names = append(names, m[1])
		}
	}
	sort.Strings(names)
	return names
}

// Every tenantwire metric the manager or a sync pod serves has a row in docs/operations.md, every
// row names a metric that exists, and so does every tenantwire_ name the README and that page use
// elsewhere (alerts, examples).
func TestMetricsAreDocumented(t *testing.T) {
	// What the manager registers with controller-runtime's registry (internal/metrics does at
	// init), and the per-object gauges internal/manager registers at start; what the sync runtime
	// registers on its own.
	registered, ok := ctrlmetrics.Registry.(prometheus.Collector)
	if !ok {
		t.Fatalf("controller-runtime's registry is a %T, which cannot describe its metrics", ctrlmetrics.Registry)
	}
	operator := metricNames(registered, metrics.ObjectCollector{})
	sync := metricNames(syncrun.NewMetrics().Registry)
	if len(operator) < 4 || len(sync) < 4 {
		t.Fatalf("found too few metrics to compare: operator %v, sync runtime %v", operator, sync)
	}
	defined := append(slices.Clone(operator), sync...)

	md := readFile(t, operationsDoc)
	documented := docTableNames(t, md, "Metrics", metricCell)
	compareNames(t, "metric", documented, defined)

	for _, doc := range []string{operationsDoc, "README.md"} {
		for _, m := range metricMention.FindAllStringSubmatch(string(readFile(t, doc)), -1) {
			name := m[0]
			if m[1] != "" {
				continue
			}
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
			if !slices.Contains(defined, name) && !slices.Contains(defined, base) {
				t.Errorf("%s names the metric %s, which the binary does not have", doc, name)
			}
		}
	}
}
