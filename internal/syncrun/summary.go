package syncrun

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/tenantwire/tenantwire/internal/cyclereport"
)

// cycleSummary keeps the last cycle's summary for the operator to read (cyclereport.Path on the
// health port). It is built from the runtime's own metrics, read before and after each cycle, so
// it says exactly what the metrics say and can hold nothing the metrics could not: counts, the
// vendors' codes and field names, failure reasons.
type cycleSummary struct {
	metrics *Metrics

	mu      sync.Mutex
	summary cyclereport.Summary
	// before is the metrics at the start of the running cycle.
	before counts
}

// counts are the runtime's counters at one moment.
type counts struct {
	rejections map[cyclereport.Rejection]float64
	failures   map[string]float64
}

func newCycleSummary(m *Metrics) *cycleSummary {
	return &cycleSummary{metrics: m}
}

// setKeyringVersion records the keyring version new mapping rows are sealed with.
func (c *cycleSummary) setKeyringVersion(v int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.summary.KeyringVersion = v
}

// begin marks the start of a cycle.
func (c *cycleSummary) begin() {
	now := c.read()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.before = now
}

// setResyncObserved records the last resync request a full pass completed for.
func (c *cycleSummary) setResyncObserved(request string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.summary.ResyncObserved = request
}

// setPendingReplay records how many rejected records are kept for replay.
func (c *cycleSummary) setPendingReplay(n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.summary.PendingReplay = n
}

// setReplay records the last replay of rejected records the runtime completed.
func (c *cycleSummary) setReplay(r cyclereport.Replay) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.summary.Replay = &r
}

// end records a finished cycle: its result, and what the counters gained since begin.
func (c *cycleSummary) end(start, end time.Time, res CycleResult, err error) {
	after := c.read()
	c.mu.Lock()
	defer c.mu.Unlock()
	cycle := &cyclereport.Cycle{Start: start.UTC(), End: end.UTC(), Read: res.Read, Created: res.Created, Updated: res.Updated, Rejected: res.Rejected}
	var rej []cyclereport.Rejection
	for k, v := range after.rejections {
		if d := int(v - c.before.rejections[k]); d > 0 {
			k.Count = d
			rej = append(rej, k)
		}
	}
	cycle.Rejections = cyclereport.SortRejections(rej)
	if err != nil {
		cycle.Failure = cyclereport.FailureOther
		if errors.Is(err, context.Canceled) {
			cycle.Failure = cyclereport.FailureInterrupted
		}
		for reason, v := range after.failures {
			if v > c.before.failures[reason] {
				cycle.Failure = reason
			}
		}
	}
	s := &c.summary
	s.Cycle = cycle
	switch cycle.Failure {
	case "":
		s.ConsecutiveFailures, s.AuthorizationRefused = 0, false
	case cyclereport.FailureInterrupted:
		// A shutdown says nothing about the sync's health.
	default:
		s.ConsecutiveFailures++
		s.AuthorizationRefused = cycle.Failure == cyclereport.FailureAuthorization
	}
}

// read gathers the rejection and failure counters.
func (c *cycleSummary) read() counts {
	out := counts{rejections: map[cyclereport.Rejection]float64{}, failures: map[string]float64{}}
	families, err := c.metrics.Registry.Gather()
	if err != nil {
		return out
	}
	for _, f := range families {
		switch f.GetName() {
		case "tenantwire_sync_rejections_total":
			for _, m := range f.GetMetric() {
				out.rejections[cyclereport.Rejection{Code: label(m, "code"), Field: label(m, "field")}] = m.GetCounter().GetValue()
			}
		case "tenantwire_sync_failures_total":
			for _, m := range f.GetMetric() {
				out.failures[label(m, "reason")] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// Summary returns a copy of the current summary.
func (c *cycleSummary) Summary() cyclereport.Summary {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.summary
	if s.Cycle != nil {
		cycle := *s.Cycle
		cycle.Rejections = append([]cyclereport.Rejection(nil), cycle.Rejections...)
		s.Cycle = &cycle
	}
	if s.Replay != nil {
		r := *s.Replay
		s.Replay = &r
	}
	return s
}

// ServeHTTP answers the operator's GET with the summary as JSON. A vendor that quotes a value
// where its error names a field has it replaced here (cyclereport.Sanitize): the operator copies
// the summary into the Integration's status, which tenant viewers read.
func (c *cycleSummary) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(cyclereport.Sanitize(c.Summary()))
}
