package hostpolicy

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Policy is the platform's allowlist: hosts per system, PostgreSQL hosts, and the egress networks
// allowed beyond the cap.
type Policy struct {
	// Hosts of each system; a system without an entry allows nothing.
	Hosts map[string]List
	// Postgres are the hosts a mapping store's DSN may name; none by default.
	Postgres List
	// AllowedEgress are networks an Integration's egress may lie within even though they overlap
	// the cap (CappedNetworks and ClusterCIDRs). The CRD refuses /0 and link-local rules before
	// this is asked.
	AllowedEgress []netip.Prefix
	// ClusterCIDRs are the cluster's own pod and service ranges, which no Integration may open
	// unless AllowedEgress covers the rule.
	ClusterCIDRs []netip.Prefix
}

// Config is the platform's settings as the operator's flags give them.
type Config struct {
	// Hosts replaces the defaults of each system it names.
	Hosts         map[string][]string
	PostgresHosts []string
	AllowedEgress []string
	ClusterCIDRs  []string
}

// New builds the policy from the defaults and the platform's settings. Patterns naming an IP
// address are refused: a name is what TLS verifies, and an address is what an attacker on the
// network path would rather have.
func New(c Config) (Policy, error) {
	p := Policy{Hosts: map[string]List{}}
	for system, patterns := range DefaultHosts {
		l, err := ParseList(patterns)
		if err != nil {
			return Policy{}, err
		}
		p.Hosts[system] = l
	}
	systems := make([]string, 0, len(c.Hosts))
	for s := range c.Hosts {
		systems = append(systems, s)
	}
	sort.Strings(systems)
	for _, system := range systems {
		if _, known := DefaultHosts[system]; !known {
			return Policy{}, fmt.Errorf("--allowed-hosts: unknown system %q (known: %s)", system, strings.Join(knownSystems(), ", "))
		}
		l, err := parseHostFlag(c.Hosts[system])
		if err != nil {
			return Policy{}, fmt.Errorf("--allowed-hosts %s: %w", system, err)
		}
		p.Hosts[system] = l
	}
	var err error
	if p.Postgres, err = parseHostFlag(c.PostgresHosts); err != nil {
		return Policy{}, fmt.Errorf("--allowed-postgres-hosts: %w", err)
	}
	if p.AllowedEgress, err = parsePrefixes(c.AllowedEgress); err != nil {
		return Policy{}, fmt.Errorf("--allowed-egress-cidrs: %w", err)
	}
	if p.ClusterCIDRs, err = parsePrefixes(c.ClusterCIDRs); err != nil {
		return Policy{}, fmt.Errorf("--cluster-cidrs: %w", err)
	}
	return p, nil
}

// Default is the policy with no platform settings.
func Default() Policy {
	p, err := New(Config{})
	if err != nil {
		panic(err) // the defaults are constants under test
	}
	return p
}

func knownSystems() []string {
	out := make([]string, 0, len(DefaultHosts))
	for s := range DefaultHosts {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func parseHostFlag(patterns []string) (List, error) {
	l, err := ParseList(slices.DeleteFunc(slices.Clone(patterns), func(s string) bool { return strings.TrimSpace(s) == "" }))
	if err != nil {
		return nil, err
	}
	for _, p := range l {
		if p.IsIP() {
			return nil, fmt.Errorf("host pattern %q is an IP address: name the host", p)
		}
	}
	return l, nil
}

func parsePrefixes(cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range cidrs {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// HostsFor is the allowlist of one system.
func (p Policy) HostsFor(system string) List { return p.Hosts[system] }

// PostgresTarget is the host and port a PostgreSQL DSN connects to. DSNs that could connect
// anywhere else are refused: several hosts, and the host, hostaddr, port, service and servicefile
// parameters, which libpq and pgx let override the URL's host.
func PostgresTarget(dsn string) (host string, port int, err error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", 0, fmt.Errorf("not a postgres:// URL")
	}
	if strings.Contains(u.Host, ",") {
		return "", 0, fmt.Errorf("several hosts are not allowed: name one")
	}
	for _, k := range []string{"host", "hostaddr", "port", "service", "servicefile"} {
		if u.Query().Has(k) {
			return "", 0, fmt.Errorf("the %q parameter is not allowed: name the host in the URL", k)
		}
	}
	host, port = u.Hostname(), PostgresPort
	if host == "" {
		return "", 0, fmt.Errorf("no host: name one in the URL")
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return "", 0, fmt.Errorf("port %q is not a number", p)
		}
	}
	return host, port, nil
}

// CheckPostgresDSN refuses a DSN whose host is not in the list. The error names the host only.
func (l List) CheckPostgresDSN(dsn string) error {
	host, port, err := PostgresTarget(dsn)
	if err != nil {
		return err
	}
	if !l.Allows(host, port, PostgresPort) {
		return &HostNotAllowedError{Host: host, Port: port}
	}
	return nil
}
