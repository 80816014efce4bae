package lifecycle

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	since := metav1.NewTime(now.Add(-10 * 24 * time.Hour))
	deleted := metav1.NewTime(now)
	tests := map[string]struct {
		spec        twv1.TenantState
		since       *metav1.Time
		purgedAt    *metav1.Time
		deleting    bool
		immediate   bool
		grace       time.Duration
		want        twv1.TenantState
		wantPurge   bool
		wantPurged  bool
		wantWaitFor time.Duration
	}{
		"active":                     {want: twv1.TenantActive},
		"default state is active":    {spec: "", want: twv1.TenantActive},
		"suspended":                  {spec: twv1.TenantSuspended, want: twv1.TenantSuspended},
		"offboarding starts now":     {spec: twv1.TenantOffboarding, want: twv1.TenantOffboarding, wantWaitFor: 60 * 24 * time.Hour},
		"ten days into the grace":    {spec: twv1.TenantOffboarding, since: &since, want: twv1.TenantOffboarding, wantWaitFor: 50 * 24 * time.Hour},
		"custom grace has passed":    {spec: twv1.TenantOffboarding, since: &since, grace: 10 * 24 * time.Hour, want: twv1.TenantOffboarding, wantPurge: true},
		"one second before purge":    {spec: twv1.TenantOffboarding, since: &since, grace: 10*24*time.Hour + time.Second, want: twv1.TenantOffboarding, wantWaitFor: time.Second},
		"deleting an active tenant":  {spec: twv1.TenantActive, deleting: true, want: twv1.TenantOffboarding, wantWaitFor: 60 * 24 * time.Hour},
		"immediate purge on request": {spec: twv1.TenantActive, deleting: true, immediate: true, want: twv1.TenantOffboarding, wantPurge: true},
		"already purged":             {spec: twv1.TenantOffboarding, since: &since, purgedAt: &since, want: twv1.TenantOffboarding, wantPurged: true},
		"purged, then set Active":    {spec: twv1.TenantActive, since: &since, purgedAt: &since, want: twv1.TenantOffboarding, wantPurged: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tn := &twv1.Tenant{Spec: twv1.TenantSpec{State: tc.spec}, Status: twv1.TenantStatus{OffboardingSince: tc.since, PurgedAt: tc.purgedAt}}
			if tc.deleting {
				tn.DeletionTimestamp = &deleted
			}
			if tc.immediate {
				tn.Annotations = map[string]string{twv1.PurgeImmediatelyAnnotation: "true"}
			}
			if tc.grace > 0 {
				tn.Spec.Retention.GracePeriod = &metav1.Duration{Duration: tc.grace}
			}
			d := Decide(tn, now)
			if d.State != tc.want || d.Purge != tc.wantPurge || d.Purged != tc.wantPurged || d.WaitFor != tc.wantWaitFor {
				t.Errorf("Decide = %+v, want state %s purge %v purged %v waitFor %s", d, tc.want, tc.wantPurge, tc.wantPurged, tc.wantWaitFor)
			}
			if d.Offboarding() && !d.PurgeAfter.Equal(d.OffboardingSince.Add(tn.GracePeriod())) {
				t.Errorf("purgeAfter %s is not offboardingSince %s + grace", d.PurgeAfter, d.OffboardingSince)
			}
		})
	}
}
