package integration

import (
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
)

func withCron(expr string) func(*twv1.Integration) {
	return func(in *twv1.Integration) { in.Spec.Schedule = &twv1.Schedule{Cron: expr} }
}

func TestValidateSchedule(t *testing.T) {
	tests := map[string]struct {
		schedule *twv1.Schedule
		wantMsg  string // empty: accepted
	}{
		"default schedule":   {},
		"interval":           {schedule: &twv1.Schedule{Interval: &metav1.Duration{Duration: time.Minute}}},
		"every 15 minutes":   {schedule: &twv1.Schedule{Cron: "*/15 * * * *"}},
		"named days":         {schedule: &twv1.Schedule{Cron: "0 6 * JAN-MAR mon-fri"}},
		"minute 99":          {schedule: &twv1.Schedule{Cron: "99 * * * *"}, wantMsg: `spec.schedule.cron "99 * * * *": `},
		"backwards range":    {schedule: &twv1.Schedule{Cron: "30-10 * * * *"}, wantMsg: "beyond end of range"},
		"step of zero":       {schedule: &twv1.Schedule{Cron: "*/0 * * * *"}, wantMsg: "step"},
		"six fields":         {schedule: &twv1.Schedule{Cron: "0 */15 * * * *"}, wantMsg: "expected exactly 5 fields"},
		"day of week 7":      {schedule: &twv1.Schedule{Cron: "0 0 * * 7"}, wantMsg: "above maximum"},
		"unknown month name": {schedule: &twv1.Schedule{Cron: "0 0 1 FOO *"}, wantMsg: "spec.schedule.cron"},
		"29th of February":   {schedule: &twv1.Schedule{Cron: "0 0 29 2 *"}},
		"30th of February":   {schedule: &twv1.Schedule{Cron: "0 0 30 2 *"}, wantMsg: `spec.schedule.cron "0 0 30 2 *": it never fires`},
		"31st of April":      {schedule: &twv1.Schedule{Cron: "0 0 31 4 *"}, wantMsg: "it never fires"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
			p := validateSchedule(specInput{in: sampleIntegration(func(in *twv1.Integration) { in.Spec.Schedule = tc.schedule }), now: now})
			if tc.wantMsg == "" {
				if p != nil {
					t.Fatalf("refused: %+v", p)
				}
				return
			}
			if p == nil || p.Reason != twv1.ReasonInvalidSchedule || !p.Stalled || !strings.Contains(p.Message, tc.wantMsg) {
				t.Fatalf("validateSchedule = %+v, want Stalled %s mentioning %q", p, twv1.ReasonInvalidSchedule, tc.wantMsg)
			}
		})
	}
}

// The CRD's rule and the runtime's parser must agree on every schedule a user would write: the API
// server refuses out-of-range fields at apply, and whatever it accepts here the sync pod can run.
func TestCronRuleAgreesWithTheRuntimeParser(t *testing.T) {
	accepted := []string{
		"* * * * *", "*/15 * * * *", "0 6 * * *", "0,30 8-18 * * 1-5", "5 4 * * sun", "0 0 1 jan,jul *",
		"59 23 31 12 6", "00 00 01 01 0", "0 9-17/2 * * MON-FRI", "? * * * ?", "0  6  *  *  *",
	}
	for _, expr := range accepted {
		t.Run("accepts "+expr, func(t *testing.T) {
			if _, err := syncconfig.ParseCron(expr, time.Now()); err != nil {
				t.Fatalf("the runtime's parser refuses %q: %v", expr, err)
			}
			in := newIntegration("default", "cron-ok")
			withCron(expr)(in)
			if err := k8s.Create(ctx, in, client.DryRunAll); err != nil {
				t.Fatalf("the API server refuses %q: %v", expr, err)
			}
		})
	}
	refused := []string{
		"99 * * * *", "* 24 * * *", "* * 0 * *", "* * 32 * *", "* * * 13 *", "* * * * 7", "*/0 * * * *",
		"@hourly", "@every 5m", "0 */15 * * * *", "* * * *", "CRON_TZ=Europe/Berlin * * * *", "* * * FOO *", "1;2 * * * *",
	}
	for _, expr := range refused {
		t.Run("refuses "+expr, func(t *testing.T) {
			in := newIntegration("default", "cron-bad")
			withCron(expr)(in)
			err := k8s.Create(ctx, in, client.DryRunAll)
			if err == nil {
				t.Fatalf("the API server accepted schedule.cron %q", expr)
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "schedule.cron must be five space-separated fields") {
				t.Fatalf("error = %v, want Invalid with the schedule.cron message", err)
			}
		})
	}
}

// TestInvalidScheduleStallsAndStopsTheWorkload plays a tenant admin whose cron passes the API
// server's field check but not the runtime's parser (a backwards range), or never fires (the sync
// would run back to back): the operator builds nothing for a new Integration and stops a running
// one.
func TestInvalidScheduleStallsAndStopsTheWorkload(t *testing.T) {
	ns := setupTenant(t, "badcron", true)
	const bad, backwards = "30-10 * * * *", "beginning of range (30) beyond end of range (10)"

	for name, tc := range map[string]struct{ expr, want string }{
		"backwards": {bad, backwards},
		"feb-30":    {"0 0 30 2 *", "it never fires"},
	} {
		fresh := newIntegration(ns, name)
		withCron(tc.expr)(fresh)
		createIntegration(t, fresh)
		assertInvalidSchedule(t, fresh, tc.expr, tc.want)
		assertNothingBuilt(t, fresh)
	}

	running := newIntegration(ns, "running")
	withCron("*/15 * * * *")(running)
	createIntegration(t, running)
	syncCredentials(t, running, "v1")
	markAvailable(t, running)
	waitCondition(t, running, twv1.ConditionReady, metav1.ConditionTrue, "")
	latest := getIntegration(t, running)
	withCron(bad)(latest)
	if err := k8s.Update(ctx, latest); err != nil {
		t.Fatal(err)
	}
	assertInvalidSchedule(t, running, bad, backwards)
	if _, err := getDeployment(running); !apierrors.IsNotFound(err) {
		t.Errorf("the sync Deployment still runs on a refused schedule (err=%v)", err)
	}
	expectWarning(t, running, twv1.ReasonInvalidSchedule)
}

func assertInvalidSchedule(t *testing.T, in *twv1.Integration, expr, parserErr string) {
	t.Helper()
	got := waitCondition(t, in, twv1.ConditionReady, metav1.ConditionFalse, twv1.ReasonInvalidSchedule)
	if !conditions.IsTrue(got.Status.Conditions, twv1.ConditionStalled) {
		t.Errorf("want Stalled, have %+v", got.Status.Conditions)
	}
	want := `spec.schedule.cron "` + expr + `": ` + parserErr
	if c := conditions.Get(got.Status.Conditions, twv1.ConditionReady); !strings.Contains(c.Message, want) {
		t.Errorf("message %q, want it to contain %q", c.Message, want)
	}
}
