// Package metrics lists every Prometheus metric tenantwire exports, with its meaning, in one place.
// They are served by the manager's metrics endpoint next to controller-runtime's own
// (controller_runtime_reconcile_time_seconds, controller_runtime_reconcile_errors_total, ...).
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// The gauges with a series per object (tenantwire_resource_ready, tenantwire_key_age_seconds,
// tenantwire_key_next_rotation_timestamp_seconds) are reported from the cache when scraped: see
// ObjectCollector.
var (
	// ChildApplies counts server-side apply requests sent for children, by controller and child kind.
	// In a steady state it stays flat: a rising rate without spec changes means a drift fight.
	ChildApplies = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantwire_child_applies_total",
		Help: "Writes sent for child objects: server-side applies, and the creates of a tenant's keyring.",
	}, []string{"controller", "kind"})

	// StatusWrites counts status subresource writes, by kind and the reason of the Ready condition
	// written (a bounded set: ours), so that a rate says which step keeps being written. Converging
	// objects write about twice (their first status and Ready; see status.Coalescer); in a steady
	// state it stays flat.
	StatusWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantwire_status_writes_total",
		Help: "Status subresource writes, by resource kind and the reason of the Ready condition written.",
	}, []string{"kind", "reason"})

	// WorkloadRollouts counts pod-template changes of sync workloads caused by a rotation, by cause
	// (credentials or keys). Each rotation should add exactly one per affected Integration.
	WorkloadRollouts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantwire_workload_rollouts_total",
		Help: "Sync workload rollouts caused by a credential or key rotation.",
	}, []string{"cause"})

	// KeyRotations counts keyring rotations (new versions) per tenant.
	KeyRotations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantwire_key_rotations_total",
		Help: "Keyring rotations, per tenant.",
	}, []string{"tenant"})

	// TenantPurges counts completed tenant purges (keyring destroyed, namespace deleted), by result:
	// complete, or manual_steps_remain when copies outside the operator's reach (vault paths,
	// PostgreSQL databases) are listed in the Tenant's ManualPurgeRequired condition.
	TenantPurges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantwire_tenant_purges_total",
		Help: "Completed tenant purges, by result (complete, manual_steps_remain).",
	}, []string{"result"})
)

// Results of a tenant purge (TenantPurges).
const (
	PurgeComplete          = "complete"
	PurgeManualStepsRemain = "manual_steps_remain"
)

func init() {
	ctrlmetrics.Registry.MustRegister(ChildApplies, StatusWrites, WorkloadRollouts, KeyRotations, TenantPurges)
}
