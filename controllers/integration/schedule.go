package integration

import (
	"fmt"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
)

// validateSchedule refuses a cron expression the sync runtime could not parse. The CRD checks each
// field's values at apply time, but not what a regular expression cannot see (a range that runs
// backwards, a step of zero), nor objects stored before that check existed; such a schedule would
// crash-loop the sync pod, so the operator parses it with the runtime's own parser first. A cron
// that never fires (the 30th of February) passes both the CRD and the parser, and is refused too.
func validateSchedule(x specInput) *conditions.Problem {
	s := x.in.Spec.Schedule
	if s == nil || s.Cron == "" {
		return nil
	}
	if _, err := syncconfig.ParseCron(s.Cron, x.now); err != nil {
		return &conditions.Problem{Reason: twv1.ReasonInvalidSchedule, Stalled: true,
			Message: fmt.Sprintf("spec.schedule.cron %q: %v", s.Cron, err)}
	}
	return nil
}
