package integration

import (
	"errors"
	"fmt"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/hostpolicy"
)

// hostPolicy is the platform's allowlist; a Reconciler without one allows the vendors' documented
// hosts, no PostgreSQL host and no capped network.
func (r *Reconciler) hostPolicy() hostpolicy.Policy {
	if r.HostPolicy != nil {
		return *r.HostPolicy
	}
	return defaultHostPolicy
}

var defaultHostPolicy = hostpolicy.Default()

// validateHosts refuses endpoints, a mapping store or egress the platform does not allow: a tenant
// admin edits Integrations, and a URL of their own would receive the practice's credentials. The
// runtime refuses the same hosts again before it dials (the allowlist goes into sync.yaml).
func validateHosts(x specInput) *conditions.Problem {
	in, p := x.in, x.rules.hosts
	for _, s := range vendorSides {
		ep := endpointOf(in, s)
		if !sendsTo(ep, s) {
			continue
		}
		if err := p.HostsFor(string(ep.System)).CheckRawURL(ep.URL); err != nil {
			return &conditions.Problem{Reason: twv1.ReasonHostNotAllowed, Stalled: true,
				Message: fmt.Sprintf("spec.%s.url: %s for system %s: %s", s, describeHostError(err), ep.System, allowlistHint(ep.System))}
		}
	}
	if pg := postgresStore(in); pg != nil {
		if err := p.Postgres.CheckPostgresDSN(pg.DSN); err != nil {
			return &conditions.Problem{Reason: twv1.ReasonHostNotAllowed, Stalled: true,
				Message: fmt.Sprintf("spec.mappingStore.postgres.dsn: %s: the platform lists PostgreSQL hosts in --allowed-postgres-hosts", describeHostError(err))}
		}
	}
	for i, e := range in.Spec.Egress {
		if err := p.CheckEgress(e.CIDR); err != nil {
			return &conditions.Problem{Reason: twv1.ReasonEgressNotAllowed, Stalled: true,
				Message: fmt.Sprintf("spec.egress[%d]: %s (the platform allows more with --allowed-egress-cidrs)", i, err)}
		}
	}
	return nil
}

// sendsTo says whether the runtime sends requests, and credentials, to the endpoint's URL. A
// webhook source is pushed to and sends nothing.
func sendsTo(ep twv1.Endpoint, s side) bool {
	return s != sourceSide || ep.System != twv1.SystemWebhook
}

// allowedHosts is the allowlist the runtime enforces for one endpoint; empty for an endpoint it
// never dials.
func allowedHosts(p hostpolicy.Policy, in *twv1.Integration, s side) []string {
	ep := endpointOf(in, s)
	if !sendsTo(ep, s) {
		return nil
	}
	return p.HostsFor(string(ep.System)).Strings()
}

func describeHostError(err error) string {
	var notAllowed *hostpolicy.HostNotAllowedError
	if errors.As(err, &notAllowed) {
		return err.Error()
	}
	return "refused: " + err.Error()
}

func allowlistHint(system twv1.System) string {
	if system == twv1.SystemWebhook {
		return "webhook receivers must be listed by the platform (--allowed-hosts=webhook=<host>)"
	}
	return fmt.Sprintf("use the vendor's own host, or ask the platform to list it (--allowed-hosts=%s=<host>)", system)
}
