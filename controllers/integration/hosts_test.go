package integration

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/hostpolicy"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
)

// TestHostNotAllowedStallsAndBuildsNothing plays the tenant admin who points an Integration at a
// host of their own to receive the practice's Cerbo API key, and who opens egress to a metadata
// address the API server's rules cannot know about.
func TestHostNotAllowedStallsAndBuildsNothing(t *testing.T) {
	ns := setupTenant(t, "hostile", true)
	cases := map[string]struct {
		mut             func(*twv1.Integration)
		reason, message string
	}{
		"attacker source": {
			mut:    func(in *twv1.Integration) { in.Spec.Source.URL = "https://attacker.example.com" },
			reason: twv1.ReasonHostNotAllowed, message: "spec.source.url: host attacker.example.com:443 is not allowed for system cerbo",
		},
		"lookalike destination": {
			mut:    func(in *twv1.Integration) { in.Spec.Destination.URL = "https://quickbooks.api.intuit.com.evil.io" },
			reason: twv1.ReasonHostNotAllowed, message: "spec.destination.url: host quickbooks.api.intuit.com.evil.io:443 is not allowed",
		},
		"postgres host nobody listed": {
			mut: func(in *twv1.Integration) {
				withPostgres()(in)
				in.Spec.MappingStore.Postgres.DSN = "postgres://sync@db.attacker.example:5432/acme?sslmode=verify-full"
			},
			reason: twv1.ReasonHostNotAllowed, message: "spec.mappingStore.postgres.dsn: host db.attacker.example:5432 is not allowed",
		},
		"alibaba metadata egress": {
			mut:    func(in *twv1.Integration) { in.Spec.Egress = []twv1.EgressRule{{CIDR: "100.100.100.200/32"}} },
			reason: twv1.ReasonEgressNotAllowed, message: "spec.egress[0]: cidr 100.100.100.200/32 is not allowed",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := newIntegration(ns, "hostile-"+strings.ReplaceAll(name, " ", "-"))
			tc.mut(in)
			createIntegration(t, in)
			got := waitCondition(t, in, twv1.ConditionReady, metav1.ConditionFalse, tc.reason)
			if !conditions.IsTrue(got.Status.Conditions, twv1.ConditionStalled) {
				t.Errorf("want Stalled, have %+v", got.Status.Conditions)
			}
			if c := conditions.Get(got.Status.Conditions, twv1.ConditionReady); !strings.Contains(c.Message, tc.message) {
				t.Errorf("message %q, want it to contain %q", c.Message, tc.message)
			}
			assertNothingBuilt(t, in)
		})
	}
}

func TestValidateHosts(t *testing.T) {
	p, err := hostpolicy.New(hostpolicy.Config{Hosts: map[string][]string{"webhook": {"hooks.example.com"}},
		PostgresHosts: []string{"db.acme.internal"}, ClusterCIDRs: []string{"10.96.0.0/12"}})
	if err != nil {
		t.Fatal(err)
	}
	rules := specRules{hosts: p}
	cases := map[string]struct {
		mut    func(*twv1.Integration)
		reason string
	}{
		"sample":                  {mut: func(*twv1.Integration) {}},
		"allowed postgres":        {mut: withPostgres()},
		"listed webhook receiver": {mut: func(in *twv1.Integration) { in.Spec.Destination = webhookEndpoint("https://hooks.example.com/in") }},
		"webhook source sends nothing": {mut: func(in *twv1.Integration) {
			in.Spec.Source = webhookEndpoint("https://sync.acme.example")
		}},
		"unlisted webhook receiver": {mut: func(in *twv1.Integration) { in.Spec.Destination = webhookEndpoint("https://attacker.example.com") },
			reason: twv1.ReasonHostNotAllowed},
		"bare suffix":   {mut: func(in *twv1.Integration) { in.Spec.Destination.URL = "https://evilintuit.com" }, reason: twv1.ReasonHostNotAllowed},
		"ip literal":    {mut: func(in *twv1.Integration) { in.Spec.Source.URL = "https://203.0.113.9/api/v1" }, reason: twv1.ReasonHostNotAllowed},
		"other port":    {mut: func(in *twv1.Integration) { in.Spec.Source.URL = "https://acme.md-hq.com:8443/api" }, reason: twv1.ReasonHostNotAllowed},
		"every address": {mut: func(in *twv1.Integration) { in.Spec.Egress[0].CIDR = "0.0.0.0/0" }, reason: twv1.ReasonEgressNotAllowed},
		"metadata":      {mut: func(in *twv1.Integration) { in.Spec.Egress[0].CIDR = "169.254.169.254/32" }, reason: twv1.ReasonEgressNotAllowed},
		"cluster DNS":   {mut: func(in *twv1.Integration) { in.Spec.Egress[0].CIDR = "10.96.0.10/32" }, reason: twv1.ReasonEgressNotAllowed},
		"postgres host parameter": {mut: func(in *twv1.Integration) {
			withPostgres()(in)
			in.Spec.MappingStore.Postgres.DSN += "&host=attacker.example.com"
		}, reason: twv1.ReasonHostNotAllowed},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := sampleIntegration(tc.mut)
			prob := validateHosts(specInput{in: in, rules: rules})
			if tc.reason == "" {
				if prob != nil {
					t.Fatalf("refused: %+v", prob)
				}
				return
			}
			if prob == nil || prob.Reason != tc.reason || !prob.Stalled {
				t.Fatalf("validateHosts = %+v, want Stalled %s", prob, tc.reason)
			}
		})
	}
}

func webhookEndpoint(url string) twv1.Endpoint {
	return twv1.Endpoint{System: twv1.SystemWebhook, URL: url, Credentials: twv1.Credentials{RemoteKey: "webhook/signing"}}
}

// TestConfigMapCarriesTheAllowlist: the runtime enforces what the operator renders.
func TestConfigMapCarriesTheAllowlist(t *testing.T) {
	p, err := hostpolicy.New(hostpolicy.Config{PostgresHosts: []string{"db.acme.internal"}})
	if err != nil {
		t.Fatal(err)
	}
	ip := sampleInputs()
	ip.hosts = p
	cm, err := desiredConfigMap(sampleIntegration(withPostgres()), ip)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := syncconfig.Unmarshal([]byte(cm.Data[syncconfig.FileName]))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Source.AllowedHosts, ","); got != "*.md-hq.com" {
		t.Errorf("source allowedHosts = %q", got)
	}
	if got := strings.Join(cfg.Destination.AllowedHosts, ","); got != "quickbooks.api.intuit.com,sandbox-quickbooks.api.intuit.com,oauth.platform.intuit.com" {
		t.Errorf("destination allowedHosts = %q", got)
	}
	if got := strings.Join(cfg.Store.AllowedHosts, ","); got != "db.acme.internal" {
		t.Errorf("store allowedHosts = %q", got)
	}
}
