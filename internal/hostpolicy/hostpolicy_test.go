package hostpolicy

import (
	"errors"
	"strings"
	"testing"
)

// TestDefaultsRefuseLookalikeHosts plays the tenant admin who points an Integration at a host of
// their own that looks like the vendor's.
func TestDefaultsRefuseLookalikeHosts(t *testing.T) {
	p := Default()
	cases := map[string]struct {
		system, url string
		allowed     bool
	}{
		"intuit api":                  {SystemQuickBooks, "https://quickbooks.api.intuit.com/v3/company/1", true},
		"intuit sandbox":              {SystemQuickBooks, "https://sandbox-quickbooks.api.intuit.com", true},
		"intuit token":                {SystemQuickBooks, "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer", true},
		"intuit in upper case":        {SystemQuickBooks, "https://QuickBooks.API.Intuit.com", true},
		"intuit explicit 443":         {SystemQuickBooks, "https://quickbooks.api.intuit.com:443", true},
		"attacker":                    {SystemQuickBooks, "https://attacker.example.com", false},
		"bare suffix":                 {SystemQuickBooks, "https://evilintuit.com", false},
		"vendor host as a subdomain":  {SystemQuickBooks, "https://quickbooks.api.intuit.com.evil.io", false},
		"other intuit host":           {SystemQuickBooks, "https://evil.intuit.com", false},
		"other port":                  {SystemQuickBooks, "https://quickbooks.api.intuit.com:8443", false},
		"plain http":                  {SystemQuickBooks, "http://quickbooks.api.intuit.com", false},
		"user info":                   {SystemQuickBooks, "https://x@quickbooks.api.intuit.com", false},
		"ipv4 literal":                {SystemQuickBooks, "https://203.0.113.7", false},
		"ipv6 literal":                {SystemQuickBooks, "https://[2001:db8::1]", false},
		"metadata literal":            {SystemCerbo, "https://169.254.169.254/latest", false},
		"cerbo practice":              {SystemCerbo, "https://acme.md-hq.com/api/v1", true},
		"cerbo two labels":            {SystemCerbo, "https://api.acme.md-hq.com/api/v1", true},
		"cerbo bare domain":           {SystemCerbo, "https://md-hq.com/api/v1", false},
		"cerbo bare suffix":           {SystemCerbo, "https://evilmd-hq.com/api/v1", false},
		"cerbo suffix under attacker": {SystemCerbo, "https://acme.md-hq.com.evil.io/api/v1", false},
		"zoho eu api":                 {SystemZoho, "https://www.zohoapis.eu", true},
		"zoho ca accounts":            {SystemZoho, "https://accounts.zohocloud.ca/oauth/v2/token", true},
		"zoho host for quickbooks":    {SystemQuickBooks, "https://www.zohoapis.com", false},
		"gohighlevel":                 {SystemGoHighLevel, "https://services.leadconnectorhq.com/oauth/token", true},
		"webhook has no default":      {SystemWebhook, "https://hooks.example.com", false},
		"unknown system":              {"salesforce", "https://login.salesforce.com", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := p.HostsFor(tc.system).CheckRawURL(tc.url)
			if (err == nil) != tc.allowed {
				t.Fatalf("CheckRawURL(%s, %s) = %v, want allowed=%v", tc.system, tc.url, err, tc.allowed)
			}
		})
	}
}

func TestPlatformReplacesDefaults(t *testing.T) {
	p, err := New(Config{Hosts: map[string][]string{SystemWebhook: {"hooks.example.com", "*.partner.example:8443"}}})
	if err != nil {
		t.Fatal(err)
	}
	hooks := p.HostsFor(SystemWebhook)
	for url, want := range map[string]bool{
		"https://hooks.example.com/in":        true,
		"https://a.partner.example:8443/in":   true,
		"https://a.partner.example/in":        false,
		"https://hooks.example.com:8443/in":   false,
		"https://other.example.com/in":        false,
		"https://hooks.example.com.evil.io/x": false,
	} {
		if got := hooks.CheckRawURL(url) == nil; got != want {
			t.Errorf("webhook %s allowed = %v, want %v", url, got, want)
		}
	}
	if got := p.HostsFor(SystemQuickBooks).CheckRawURL("https://quickbooks.api.intuit.com"); got != nil {
		t.Errorf("a system the platform did not name keeps its defaults: %v", got)
	}
}

func TestNewRefusesBadSettings(t *testing.T) {
	cases := map[string]struct {
		c    Config
		want string
	}{
		"unknown system": {Config{Hosts: map[string][]string{"salesforce": {"x.example"}}}, `unknown system "salesforce"`},
		"ip pattern":     {Config{Hosts: map[string][]string{SystemCerbo: {"203.0.113.7"}}}, "is an IP address"},
		"tld wildcard":   {Config{Hosts: map[string][]string{SystemCerbo: {"*.com"}}}, "at least two labels"},
		"inner wildcard": {Config{Hosts: map[string][]string{SystemCerbo: {"a.*.com"}}}, "not a valid label"},
		"bad port":       {Config{Hosts: map[string][]string{SystemCerbo: {"a.example:0"}}}, "port"},
		"postgres ip":    {Config{PostgresHosts: []string{"10.0.0.5"}}, "--allowed-postgres-hosts"},
		"bad cidr":       {Config{AllowedEgress: []string{"10.0.0.0/33"}}, "--allowed-egress-cidrs"},
		"bad cluster":    {Config{ClusterCIDRs: []string{"pods"}}, "--cluster-cidrs"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := New(tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestLoopbackPatternAllowsOnlyThatAddress: the local development loop lists its fakes by
// address and port; nothing else on loopback passes.
func TestLoopbackPatternAllowsOnlyThatAddress(t *testing.T) {
	l, err := ParseList([]string{"127.0.0.1:40123"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.CheckRawURL("https://127.0.0.1:40123/api"); err != nil {
		t.Errorf("listed address refused: %v", err)
	}
	for _, u := range []string{"https://127.0.0.1:40124", "https://127.0.0.2:40123", "https://localhost:40123"} {
		if l.CheckRawURL(u) == nil {
			t.Errorf("%s allowed", u)
		}
	}
}

func TestPostgresDSN(t *testing.T) {
	p, err := New(Config{PostgresHosts: []string{"db.example.internal", "*.db.example.net:6432"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		dsn  string
		want string // "" allowed
	}{
		"listed":               {"postgres://sync@db.example.internal/acme?sslmode=verify-full", ""},
		"listed default port":  {"postgres://sync@db.example.internal:5432/acme?sslmode=verify-full", ""},
		"wildcard with port":   {"postgresql://sync@a.db.example.net:6432/acme?sslmode=verify-full", ""},
		"other host":           {"postgres://sync@attacker.example.com/acme?sslmode=verify-full", "not allowed"},
		"other port":           {"postgres://sync@db.example.internal:6543/acme?sslmode=verify-full", "not allowed"},
		"host parameter":       {"postgres://sync@db.example.internal/acme?sslmode=verify-full&host=attacker.example.com", `"host" parameter`},
		"hostaddr parameter":   {"postgres://sync@db.example.internal/acme?hostaddr=203.0.113.7", `"hostaddr" parameter`},
		"service parameter":    {"postgres://sync@db.example.internal/acme?service=evil", `"service" parameter`},
		"several hosts":        {"postgres://sync@db.example.internal,attacker.example.com/acme", "several hosts"},
		"ip literal":           {"postgres://sync@10.0.0.5/acme?sslmode=verify-full", "not allowed"},
		"not a postgres url":   {"mysql://sync@db.example.internal/acme", "postgres://"},
		"default has no hosts": {"", "postgres://"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := p.Postgres.CheckPostgresDSN(tc.dsn)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckPostgresDSN = %v, want %q", err, tc.want)
			}
		})
	}
	if Default().Postgres.CheckPostgresDSN("postgres://sync@db.example.internal/acme") == nil {
		t.Error("the default policy allows a PostgreSQL host nobody listed")
	}
}

// TestEgressCap plays the tenant admin who opens the sync pods' egress to everything, or to the
// node's cloud metadata service.
func TestEgressCap(t *testing.T) {
	p, err := New(Config{ClusterCIDRs: []string{"10.96.0.0/12", "10.244.0.0/16"}, AllowedEgress: []string{"10.244.5.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		cidr string
		want string // "" allowed
	}{
		"vendor range":         {"203.0.113.0/24", ""},
		"vendor ipv6":          {"2001:db8::/64", ""},
		"everything":           {"0.0.0.0/0", "opens every address"},
		"everything ipv6":      {"::/0", "opens every address"},
		"metadata":             {"169.254.169.254/32", "169.254.0.0/16"},
		"half the internet":    {"128.0.0.0/1", "169.254.0.0/16"},
		"other half":           {"0.0.0.0/1", "100.100.100.200/32"},
		"ipv6 link-local":      {"fe80::/64", "fe80::/10"},
		"aws ipv6 metadata":    {"fd00:ec2::/32", "fd00:ec2::254/128"},
		"alibaba metadata":     {"100.100.100.200/32", "Alibaba"},
		"mapped metadata":      {"::ffff:169.254.169.254/128", "IPv4-mapped"},
		"service range":        {"10.96.0.10/32", "cluster's own range 10.96.0.0/12"},
		"pods":                 {"10.0.0.0/8", "cluster's own range"},
		"allowed by platform":  {"10.244.5.7/32", ""},
		"wider than allowance": {"10.244.4.0/23", "cluster's own range"},
		"not a cidr":           {"10.0.0.0/33", "not a CIDR"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := p.CheckEgress(tc.cidr)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var notAllowed *EgressNotAllowedError
			if !errors.As(err, &notAllowed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckEgress(%s) = %v, want an error containing %q", tc.cidr, err, tc.want)
			}
		})
	}
}

// FuzzWildcardStaysBelowItsDomain: whatever the host, "*.intuit.com" allows it only when it is one
// or more whole labels below intuit.com, and an exact pattern only the host itself.
func FuzzWildcardStaysBelowItsDomain(f *testing.F) {
	for _, h := range []string{"a.intuit.com", "evilintuit.com", "intuit.com", "quickbooks.api.intuit.com.evil.io", ".intuit.com", "A.INTUIT.COM."} {
		f.Add(h)
	}
	l, err := ParseList([]string{"*.intuit.com", "quickbooks.api.intuit.com"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if !l.Allows(host, HTTPSPort, HTTPSPort) {
			return
		}
		h := strings.TrimSuffix(strings.ToLower(host), ".")
		below := strings.TrimSuffix(h, ".intuit.com")
		if below == h || below == "" || strings.HasSuffix(below, ".") {
			t.Fatalf("%q allowed, but it is not one or more labels below intuit.com", host)
		}
	})
}
