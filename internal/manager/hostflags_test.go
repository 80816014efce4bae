package manager

import (
	"flag"
	"strings"
	"testing"

	"github.com/tenantwire/tenantwire/internal/hostpolicy"
)

func TestHostFlags(t *testing.T) {
	var o Options
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	o.BindFlags(fs)
	err := fs.Parse([]string{
		"--allowed-hosts=webhook=hooks.example.com", "--allowed-hosts=webhook=*.partner.example:8443",
		"--allowed-hosts=cerbo=", "--allowed-postgres-hosts=db.example.internal",
		"--allowed-egress-cidrs=10.244.5.0/24", "--cluster-cidrs=10.96.0.0/12,10.244.0.0/16",
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := hostpolicy.New(o.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.HostsFor(hostpolicy.SystemWebhook).Strings(), " "); got != "hooks.example.com *.partner.example:8443" {
		t.Errorf("webhook hosts = %q", got)
	}
	if got := p.HostsFor(hostpolicy.SystemCerbo); len(got) != 0 {
		t.Errorf("cerbo= kept %v", got)
	}
	if p.HostsFor(hostpolicy.SystemQuickBooks).CheckRawURL("https://quickbooks.api.intuit.com") != nil {
		t.Error("quickbooks lost its defaults")
	}
	if p.CheckEgress("10.96.0.10/32") == nil || p.CheckEgress("10.244.5.1/32") != nil {
		t.Error("cluster ranges or the egress allowance not applied")
	}

	var bad Options
	fs = flag.NewFlagSet("test", flag.ContinueOnError)
	bad.BindFlags(fs)
	if err := fs.Parse([]string{"--allowed-hosts=hooks.example.com"}); err == nil || !strings.Contains(err.Error(), "<system>=<pattern>") {
		t.Errorf("a value without a system: %v", err)
	}
}
