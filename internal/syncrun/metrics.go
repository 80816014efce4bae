package syncrun

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics of the sync runtime, one registry per runtime so tests can read them. Labels never
// carry IDs or record content.
type Metrics struct {
	Registry *prometheus.Registry
	// Records counts records handled, by result: created, updated or rejected (the destination
	// refused the record for good; it is skipped until the source changes it again).
	Records *prometheus.CounterVec
	// Rejections counts records refused for good, by the vendor's error code (or "codec" when the
	// destination's codec refused the record before sending it) and the field concerned. Never a
	// value.
	Rejections *prometheus.CounterVec
	// Failures counts cycles that stopped early, by reason: source, destination, store, mapping.
	// The cursor stays where it was, so the next cycle retries.
	Failures *prometheus.CounterVec
	// LastSuccess is the Unix time the last cycle completed; alert when it lags the schedule.
	LastSuccess prometheus.Gauge
	// CycleDuration is how long each cycle took.
	CycleDuration prometheus.Histogram
	// MappingRecords counts mapping rows by key version; after a rotation the old versions drain
	// to zero as the rewrap runs.
	MappingRecords *prometheus.GaugeVec
	// UnknownVersionRecords counts rows under a key version the keyring no longer holds: they can
	// never be read again. Anything above zero keeps the pod unready.
	UnknownVersionRecords prometheus.Gauge
	// SealedState counts sealed runtime state (cursors, saved refresh tokens, webhook deliveries
	// waiting for the sync) by key version; like mapping rows, older versions drain to zero.
	SealedState *prometheus.GaugeVec
	// UnknownVersionState counts sealed state under a key version the keyring no longer holds.
	UnknownVersionState prometheus.Gauge
	// RejectedRecords counts records kept for replay after the destination rejected them, by key
	// version; like mapping rows, older versions drain to zero as the rewrap runs.
	RejectedRecords *prometheus.GaugeVec
	// Rewrapped counts mapping rows, sealed state values and rejected records moved onto the active key version.
	Rewrapped prometheus.Counter
	// Ready is 1 while the readiness endpoint answers OK.
	Ready prometheus.Gauge
}

// NewMetrics registers the runtime's metrics with Go and process collectors on a fresh registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantwire_sync_records_total", Help: "Records handled by the sync, by result.",
		}, []string{"result"}),
		Rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantwire_sync_rejections_total", Help: "Records refused for good, by the vendor's error code and the field concerned.",
		}, []string{"code", "field"}),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantwire_sync_failures_total", Help: "Sync cycles that stopped early, by reason.",
		}, []string{"reason"}),
		LastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tenantwire_sync_last_success_timestamp_seconds", Help: "Unix time the last sync cycle completed.",
		}),
		CycleDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tenantwire_sync_cycle_duration_seconds", Help: "Duration of sync cycles.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}),
		MappingRecords: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tenantwire_sync_mapping_records", Help: "Patient-ID mapping rows by key version.",
		}, []string{"key_version"}),
		UnknownVersionRecords: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tenantwire_sync_mapping_unknown_version_records",
			Help: "Mapping rows under a key version the keyring no longer holds (unreadable).",
		}),
		SealedState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tenantwire_sync_sealed_state_entries", Help: "Sealed cursors, saved tokens and pending webhook deliveries by key version.",
		}, []string{"key_version"}),
		UnknownVersionState: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tenantwire_sync_sealed_state_unknown_version_entries",
			Help: "Sealed state entries under a key version the keyring no longer holds (unreadable).",
		}),
		RejectedRecords: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tenantwire_sync_rejected_records", Help: "Records the destination rejected, kept sealed for replay, by key version.",
		}, []string{"key_version"}),
		Rewrapped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tenantwire_sync_rewrapped_records_total", Help: "Mapping rows and sealed state entries moved onto the active key version.",
		}),
		Ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tenantwire_sync_ready", Help: "1 while the sync runtime reports ready.",
		}),
	}
	m.Registry.MustRegister(m.Records, m.Rejections, m.Failures, m.LastSuccess, m.CycleDuration, m.MappingRecords,
		m.UnknownVersionRecords, m.SealedState, m.UnknownVersionState, m.RejectedRecords, m.Rewrapped, m.Ready,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{resultCreated, resultUpdated, resultRejected} {
		m.Records.WithLabelValues(r)
	}
	for _, r := range []string{reasonSource, reasonDestination, reasonAuthorization, reasonStore, reasonMapping} {
		m.Failures.WithLabelValues(r)
	}
	return m
}

const (
	resultCreated  = "created"
	resultUpdated  = "updated"
	resultRejected = "rejected"

	reasonSource      = "source"
	reasonDestination = "destination"
	// reasonAuthorization is a vendor refusing the Integration's OAuth2 authorization: nothing
	// moves until the practice authorizes the app again.
	reasonAuthorization = "authorization"
	reasonStore         = "store"
	reasonMapping       = "mapping"
)
