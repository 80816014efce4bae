package integration

import (
	"testing"
	"time"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/imagepolicy"
)

// TestValidateSpec runs the whole chain: each check refuses what it alone can see, the first
// problem in chain order is the one reported, and an Integration that passes every check is built.
func TestValidateSpec(t *testing.T) {
	allowed, err := imagepolicy.ParseAllowList([]string{"registry.internal/tenantwire/"})
	if err != nil {
		t.Fatal(err)
	}
	rules := specRules{syncImage: "tenantwire:test", allowedImages: allowed, hosts: defaultHostPolicy,
		baaCovered: mustCoverage(t, "quickbooks")}
	noStore := func(tn *twv1.Tenant) { tn.Spec.SecretStore = nil }
	badCron := func(in *twv1.Integration) { in.Spec.Schedule = &twv1.Schedule{Cron: "0 0 30 2 *"} }
	badImage := func(in *twv1.Integration) { in.Spec.Image = "docker.io/attacker/exfiltrate:latest" }
	badHost := func(in *twv1.Integration) { in.Spec.Destination.URL = "https://evilintuit.com" }
	badEgress := func(in *twv1.Integration) { in.Spec.Egress[0].CIDR = "0.0.0.0/0" }
	outside := func(in *twv1.Integration) { in.Spec.Source.Credentials.RemoteKey = "../other/cerbo" }
	cases := map[string]struct {
		tenant   []func(*twv1.Tenant)
		noTenant bool
		mut      []func(*twv1.Integration)
		rules    *specRules
		reason   string
	}{
		"every check passes": {},
		"no tenant yet: only the Integration's own checks run": {noTenant: true},
		"tenant without a store":                               {tenant: []func(*twv1.Tenant){noStore}, reason: twv1.ReasonSecretStoreMissing},
		"credentials outside the tenant's prefix":              {mut: []func(*twv1.Integration){outside}, reason: twv1.ReasonCredentialsOutsidePrefix},
		"a cron that never fires":                              {mut: []func(*twv1.Integration){badCron}, reason: twv1.ReasonInvalidSchedule},
		"an image the operator does not trust":                 {mut: []func(*twv1.Integration){badImage}, reason: twv1.ReasonImageNotAllowed},
		"a host not on the allowlist":                          {mut: []func(*twv1.Integration){badHost}, reason: twv1.ReasonHostNotAllowed},
		"egress beyond the allowlist":                          {mut: []func(*twv1.Integration){badEgress}, reason: twv1.ReasonEgressNotAllowed},
		"PHI to a system without an agreement": {mut: []func(*twv1.Integration){withFields("name", "sex")},
			rules: &specRules{hosts: defaultHostPolicy}, reason: twv1.ReasonFieldsNotCovered},
		// Order: the first failing check in the chain wins.
		"tenant before schedule": {tenant: []func(*twv1.Tenant){noStore}, mut: []func(*twv1.Integration){badCron},
			reason: twv1.ReasonSecretStoreMissing},
		"schedule before image": {mut: []func(*twv1.Integration){badImage, badCron}, reason: twv1.ReasonInvalidSchedule},
		"image before hosts":    {mut: []func(*twv1.Integration){badHost, badImage}, reason: twv1.ReasonImageNotAllowed},
		"hosts before fields": {mut: []func(*twv1.Integration){withFields("name", "sex"), badHost},
			rules: &specRules{hosts: defaultHostPolicy}, reason: twv1.ReasonHostNotAllowed},
		"without a tenant, a bad schedule is still refused": {noTenant: true, mut: []func(*twv1.Integration){badCron},
			reason: twv1.ReasonInvalidSchedule},
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tn := sampleTenant()
			for _, m := range tc.tenant {
				m(tn)
			}
			if tc.noTenant {
				tn = nil
			}
			r := rules
			if tc.rules != nil {
				r = *tc.rules
			}
			p := validateSpec(specInput{in: sampleIntegration(tc.mut...), tenant: tn, rules: r, now: now})
			switch {
			case tc.reason == "" && p != nil:
				t.Fatalf("refused: %+v", p)
			case tc.reason != "" && p == nil:
				t.Fatalf("accepted, want %s", tc.reason)
			case p != nil && (p.Reason != tc.reason || !p.Stalled || p.Message == ""):
				t.Fatalf("problem = %+v, want Stalled %s with a message", p, tc.reason)
			}
		})
	}
}
