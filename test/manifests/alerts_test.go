package manifests

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/tenantwire/tenantwire/internal/metrics"
	"github.com/tenantwire/tenantwire/internal/syncrun"
)

const alertsFile = "config/prometheus/alerts.yaml"

// alertRule is one alerting rule of a PrometheusRule.
type alertRule struct {
	group, alert, expr string
}

func alertRules(t *testing.T, data []byte) []alertRule {
	t.Helper()
	var rules []alertRule
	for _, o := range decodeAll(t, data) {
		if o.GetKind() != "PrometheusRule" {
			continue
		}
		groups, _ := o.Object["spec"].(map[string]any)["groups"].([]any)
		for _, g := range groups {
			group := g.(map[string]any)
			for _, r := range group["rules"].([]any) {
				rule := r.(map[string]any)
				rules = append(rules, alertRule{group: group["name"].(string), alert: rule["alert"].(string), expr: rule["expr"].(string)})
			}
		}
	}
	return rules
}

var (
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent    = regexp.MustCompile(`([A-Za-z_:][A-Za-z0-9_:]*)\s*(\()?`)
	promKeywords = []string{"and", "or", "unless", "bool", "offset"}
)

// exprMetrics are the metric names a PromQL expression selects: its identifiers without label
// matchers, ranges, grouping labels, strings, keywords and function names.
func exprMetrics(expr string) []string {
	for _, re := range []*regexp.Regexp{promString, promMatchers, promRange, promGrouping} {
		expr = re.ReplaceAllString(expr, " ")
	}
	var names []string
	for _, m := range promIdent.FindAllStringSubmatch(expr, -1) {
		if m[2] == "(" || slices.Contains(promKeywords, m[1]) {
			continue
		}
		names = append(names, m[1])
	}
	return names
}

// describedNames are the names of every metric the collectors describe.
func describedNames(cs ...prometheus.Collector) []string {
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range cs {
			c.Describe(ch)
		}
		close(ch)
	}()
	var names []string
	for d := range ch {
		if m := descName.FindStringSubmatch(d.String()); m != nil {
			names = append(names, m[1])
		}
	}
	return names
}

// unregisteredMetrics are the names an expression uses that the registered set lacks; a
// histogram's _bucket, _sum and _count series count as its own.
func unregisteredMetrics(expr string, registered []string) []string {
	var missing []string
	for _, n := range exprMetrics(expr) {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count"), "_sum")
		if n == "up" || slices.Contains(registered, n) || slices.Contains(registered, base) {
			continue // up: Prometheus records it for every scrape target
		}
		missing = append(missing, n)
	}
	return missing
}

// Every metric an alert reads is one the binary registers: the manager's group reads what the
// manager serves (controller-runtime's registry, with the per-object gauges internal/manager
// registers at start), the sync group what a sync pod serves. An alert on a metric nobody emits
// never fires.
func TestAlertsUseRegisteredMetrics(t *testing.T) {
	registered, ok := ctrlmetrics.Registry.(prometheus.Collector)
	if !ok {
		t.Fatalf("controller-runtime's registry is a %T, which cannot describe its metrics", ctrlmetrics.Registry)
	}
	byGroup := map[string][]string{
		"tenantwire":      describedNames(registered, metrics.ObjectCollector{}),
		"tenantwire-sync": describedNames(syncrun.NewMetrics().Registry),
	}
	// The check itself: a made-up metric is caught, a real one and a histogram's buckets are not.
	if got := unregisteredMetrics(`sum by (pod) (increase(tenantwire_sync_auth_expired_total{reason="x"}[1h])) > 0 and on (pod) tenantwire_sync_ready`, byGroup["tenantwire-sync"]); !slices.Equal(got, []string{"tenantwire_sync_auth_expired_total"}) {
		t.Errorf("the check reports %q for a made-up metric, want exactly it", got)
	}
	if got := unregisteredMetrics(`histogram_quantile(0.99, sum by (le) (rate(controller_runtime_reconcile_time_seconds_bucket[5m])))`, byGroup["tenantwire"]); len(got) != 0 {
		t.Errorf("the check reports %q for controller-runtime's reconcile histogram", got)
	}

	rules := alertRules(t, readFile(t, alertsFile))
	if len(rules) < 10 {
		t.Fatalf("%d alert rules in %s, want the manager's and the sync runtime's", len(rules), alertsFile)
	}
	for _, r := range rules {
		registered, ok := byGroup[r.group]
		if !ok {
			t.Errorf("%s: group %q is neither the manager's (tenantwire) nor the sync runtime's (tenantwire-sync)", r.alert, r.group)
			continue
		}
		if len(exprMetrics(r.expr)) == 0 {
			t.Errorf("%s: no metric found in %q", r.alert, r.expr)
		}
		if missing := unregisteredMetrics(r.expr, registered); len(missing) > 0 {
			t.Errorf("%s (group %s) reads %q, which the binary does not register", r.alert, r.group, missing)
		}
	}
}

// The chart's PrometheusRule carries exactly the rules of config/prometheus/alerts.yaml.
func TestChartPrometheusRuleIsConfigs(t *testing.T) {
	want := find(decodeAll(t, readFile(t, alertsFile)), "PrometheusRule", "tenantwire")
	got := find(decodeAll(t, helmTemplate(t, kustomizeNamespace, "--set", "prometheusRule.enabled=true")), "PrometheusRule", "tenantwire")
	if want == nil || got == nil {
		t.Fatalf("PrometheusRule tenantwire: in %s %v, in the chart %v", alertsFile, want != nil, got != nil)
	}
	if !reflect.DeepEqual(got.Object["spec"], want.Object["spec"]) {
		t.Errorf("the chart's PrometheusRule differs from %s: run make manifests", alertsFile)
	}
}
