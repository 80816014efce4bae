// Package lifecycle decides where a tenant stands in its subscription: active, suspended, in its
// offboarding grace period, due for purge, or purged. It is a pure function of the Tenant and the
// time, shared by every controller that must agree on it.
package lifecycle

import (
	"time"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// Decision is what the tenant's lifecycle asks for now.
type Decision struct {
	State twv1.TenantState
	// OffboardingSince and PurgeAfter are set while offboarding.
	OffboardingSince time.Time
	PurgeAfter       time.Time
	// Purge: destroy the keys and the namespace now. Purged: that already happened.
	Purge  bool
	Purged bool
	// WaitFor is how long until the purge is due (zero when nothing is scheduled).
	WaitFor time.Duration
}

// Offboarding reports whether the tenant is offboarding (in its grace period, purging or purged).
func (d Decision) Offboarding() bool { return d.State == twv1.TenantOffboarding }

// Decide computes the tenant's lifecycle decision at now.
func Decide(t *twv1.Tenant, now time.Time) Decision {
	d := Decision{State: t.EffectiveState()}
	if t.Status.PurgedAt != nil {
		d.State, d.Purged = twv1.TenantOffboarding, true
	}
	if d.State != twv1.TenantOffboarding {
		return d
	}
	d.OffboardingSince = now.UTC().Truncate(time.Second)
	if s := t.Status.OffboardingSince; s != nil {
		d.OffboardingSince = s.Time
	}
	d.PurgeAfter = d.OffboardingSince.Add(t.GracePeriod())
	if d.Purged {
		return d
	}
	if t.Annotations[twv1.PurgeImmediatelyAnnotation] == "true" || !now.Before(d.PurgeAfter) {
		d.Purge = true
		return d
	}
	d.WaitFor = d.PurgeAfter.Sub(now)
	return d
}

// KeysDisposable reports whether the tenant's keyring must no longer be created or rotated:
// its purge is due or done.
func KeysDisposable(t *twv1.Tenant, now time.Time) bool {
	d := Decide(t, now)
	return d.Purge || d.Purged
}
