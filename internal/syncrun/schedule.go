package syncrun

import (
	"fmt"
	"time"

	"github.com/tenantwire/tenantwire/internal/syncconfig"
)

// Schedule gives the start of the next cycle after a cycle started at last.
type Schedule func(last time.Time) time.Time

// ParseSchedule turns the rendered schedule into a Schedule: a fixed interval after the last
// start, or the next cron time (five fields, UTC) after it. now rules out a cron that never fires.
func ParseSchedule(s syncconfig.Schedule, now time.Time) (Schedule, error) {
	switch {
	case s.Interval != "" && s.Cron != "":
		return nil, fmt.Errorf("schedule has both an interval and a cron expression")
	case s.Interval != "":
		d, err := time.ParseDuration(s.Interval)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("schedule interval %q is not a positive duration", s.Interval)
		}
		return func(last time.Time) time.Time { return last.Add(d) }, nil
	case s.Cron != "":
		sched, err := syncconfig.ParseCron(s.Cron, now)
		if err != nil {
			return nil, fmt.Errorf("schedule cron %q: %w", s.Cron, err)
		}
		return func(last time.Time) time.Time { return sched.Next(last.UTC()) }, nil
	default:
		return nil, fmt.Errorf("schedule has neither an interval nor a cron expression")
	}
}
