// Package hostpolicy says which hosts a sync may send a system's credentials to, and which egress
// networks an Integration may open. It is platform configuration: the operator's flags set it, the
// operator renders the hosts of each Integration into its sync configuration, and the runtime
// refuses every other host before it dials. Tenant admins edit Integrations, so nothing here comes
// from an Integration: a URL or CIDR they write is checked against it, never added to it.
//
// The package is pure: no I/O, no clock, no DNS.
package hostpolicy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Systems named by the policy; they are the Integration API's system names.
const (
	SystemCerbo       = "cerbo"
	SystemQuickBooks  = "quickbooks"
	SystemZoho        = "zoho"
	SystemGoHighLevel = "gohighlevel"
	SystemWebhook     = "webhook"
)

// Default ports: a pattern without a port allows only this one.
const (
	HTTPSPort    = 443
	PostgresPort = 5432
)

// DefaultHosts are the hosts each vendor documents for its API and its OAuth2 token endpoint.
// A platform flag replaces a system's list as a whole.
var DefaultHosts = map[string][]string{
	// Intuit: the production and sandbox base URLs of the QuickBooks Online Accounting API and the
	// OAuth 2.0 token endpoint (developer.intuit.com, "OAuth 2.0" and "Base URLs" of the QuickBooks
	// Online API docs; token endpoint https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer).
	SystemQuickBooks: {"quickbooks.api.intuit.com", "sandbox-quickbooks.api.intuit.com", "oauth.platform.intuit.com"},
	// Zoho: the API domain and the accounts (token) server of each data centre
	// (zoho.com/crm/developer/docs/api/v8/multi-dc.html and
	// zoho.com/accounts/protocol/oauth/multi-dc.html). Canada's accounts server is
	// accounts.zohocloud.ca there; www.zohoapis.ca and www.zohoapis.sa are not listed on the CRM
	// page we could read and are kept from the CRM API's naming of the other centres.
	SystemZoho: {
		"www.zohoapis.com", "www.zohoapis.eu", "www.zohoapis.in", "www.zohoapis.com.au",
		"www.zohoapis.com.cn", "www.zohoapis.jp", "www.zohoapis.ca", "www.zohoapis.sa",
		"accounts.zoho.com", "accounts.zoho.eu", "accounts.zoho.in", "accounts.zoho.com.au",
		"accounts.zoho.com.cn", "accounts.zoho.jp", "accounts.zohocloud.ca", "accounts.zoho.sa",
	},
	// GoHighLevel: API v2 and its token endpoint share one host
	// (marketplace.gohighlevel.com/docs; token endpoint
	// https://services.leadconnectorhq.com/oauth/token).
	SystemGoHighLevel: {"services.leadconnectorhq.com"},
	// Cerbo: each practice has its own subdomain (https://<practice>.md-hq.com/api/v1). Cerbo's
	// API documentation (docs.cer.bo) speaks of an "api-subdomain" without naming the parent
	// domain; md-hq.com is the domain practices are served under and could not be confirmed there.
	SystemCerbo: {"*.md-hq.com"},
	// Webhook receivers are whatever the platform names: none by default.
	SystemWebhook: {},
}

// Pattern is one allowed host: an exact host name ("quickbooks.api.intuit.com"), or "*." and a
// domain ("*.md-hq.com"), which matches one or more labels below that domain and never the domain
// itself. Either may end in ":port"; without one only the system's default port is allowed.
// An exact IP address is accepted only as written (the local development loop's fakes); the
// operator's flags refuse it.
type Pattern struct {
	// Host is the exact host, or the domain below which a wildcard matches.
	Host     string
	Wildcard bool
	// Port is 0 for the default port.
	Port int
}

// ParsePattern reads one pattern. Host names are compared in lower case.
func ParsePattern(s string) (Pattern, error) {
	host, port := s, 0
	if h, p, err := net.SplitHostPort(s); err == nil {
		n, perr := strconv.Atoi(p)
		if perr != nil || n < 1 || n > 65535 {
			return Pattern{}, fmt.Errorf("host pattern %q: port %q is not a number from 1 to 65535", s, p)
		}
		host, port = h, n
	}
	host = strings.ToLower(host)
	wildcard := strings.HasPrefix(host, "*.")
	if wildcard {
		host = strings.TrimPrefix(host, "*.")
	}
	if _, err := netip.ParseAddr(host); err == nil {
		if wildcard {
			return Pattern{}, fmt.Errorf("host pattern %q: a wildcard needs a domain, not an IP address", s)
		}
		return Pattern{Host: host, Port: port}, nil
	}
	if err := checkHostname(host); err != nil {
		return Pattern{}, fmt.Errorf("host pattern %q: %w", s, err)
	}
	if wildcard && !strings.Contains(host, ".") {
		// "*.com" would hand credentials to any host under a top-level domain.
		return Pattern{}, fmt.Errorf("host pattern %q: a wildcard needs a domain of at least two labels", s)
	}
	return Pattern{Host: host, Wildcard: wildcard, Port: port}, nil
}

// String renders the pattern as ParsePattern reads it.
func (p Pattern) String() string {
	h := p.Host
	if p.Wildcard {
		h = "*." + h
	}
	if p.Port != 0 {
		return net.JoinHostPort(h, strconv.Itoa(p.Port))
	}
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}

// IsIP says the pattern names an IP address.
func (p Pattern) IsIP() bool {
	_, err := netip.ParseAddr(p.Host)
	return err == nil
}

// matches says whether host (lower case, no port) on port is allowed by p, with defaultPort for a
// pattern that names none. A wildcard matches on a label boundary only: "*.intuit.com" allows
// "a.intuit.com" and "a.b.intuit.com", never "intuit.com" or "evilintuit.com".
func (p Pattern) matches(host string, port, defaultPort int) bool {
	want := p.Port
	if want == 0 {
		want = defaultPort
	}
	if port != want {
		return false
	}
	if !p.Wildcard {
		return host == p.Host
	}
	return strings.HasSuffix(host, "."+p.Host) && len(host) > len(p.Host)+1
}

// checkHostname accepts a DNS name of letters, digits and hyphens, labels of 1 to 63 characters.
func checkHostname(h string) error {
	if h == "" || len(h) > 253 {
		return errors.New("not a host name")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q is not a valid label of a host name", label)
		}
		for _, c := range label {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return fmt.Errorf("%q is not a valid label of a host name", label)
			}
		}
	}
	return nil
}

// List is the allowed hosts of one system.
type List []Pattern

// ParseList reads patterns; an empty list allows nothing.
func ParseList(patterns []string) (List, error) {
	l := make(List, 0, len(patterns))
	for _, s := range patterns {
		p, err := ParsePattern(strings.TrimSpace(s))
		if err != nil {
			return nil, err
		}
		l = append(l, p)
	}
	return l, nil
}

// Strings renders the list for the sync configuration.
func (l List) Strings() []string {
	out := make([]string, len(l))
	for i, p := range l {
		out[i] = p.String()
	}
	return out
}

// Allows says whether host:port is in the list. host may be in any case; an IP address is allowed
// only when a pattern names exactly that address.
func (l List) Allows(host string, port, defaultPort int) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if _, err := netip.ParseAddr(host); err != nil && checkHostname(host) != nil {
		// Empty labels and characters no DNS name has would otherwise slip past a suffix match.
		return false
	}
	return slices.ContainsFunc(l, func(p Pattern) bool { return p.matches(host, port, defaultPort) })
}

// HostNotAllowedError names a refused host; it carries no part of the URL but its host and port.
type HostNotAllowedError struct {
	Host string
	Port int
}

func (e *HostNotAllowedError) Error() string {
	return fmt.Sprintf("host %s is not allowed", net.JoinHostPort(e.Host, strconv.Itoa(e.Port)))
}

// CheckURL refuses a URL whose scheme is not https or whose host and port are not in the list.
// The error names the host, never the path, query or user info.
func (l List) CheckURL(u *url.URL) error {
	if u.Scheme != "https" {
		return fmt.Errorf("scheme %q is not allowed: only https", u.Scheme)
	}
	if u.User != nil {
		return errors.New("user info in the URL is not allowed")
	}
	host := u.Hostname()
	port := HTTPSPort
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("port %q is not a number", p)
		}
		port = n
	}
	if !l.Allows(host, port, HTTPSPort) {
		return &HostNotAllowedError{Host: host, Port: port}
	}
	return nil
}

// CheckRawURL parses and checks a URL.
func (l List) CheckRawURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a valid URL")
	}
	return l.CheckURL(u)
}
