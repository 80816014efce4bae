// Package metrics lists every Prometheus metric tenantwire exports, with its meaning, in one place.
// They are served by the manager's metrics endpoint next to controller-runtime's own
// (controller_runtime_reconcile_time_seconds, controller_runtime_reconcile_errors_total, ...).
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// Ready is 1 while a resource's Ready condition is True and 0 otherwise, one series per object:
	// alert on `tenantwire_resource_ready == 0` for longer than a few minutes.
	Ready = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tenantwire_resource_ready",
		Help: "1 when the resource's Ready condition is True, 0 otherwise.",
	}, []string{"kind", "namespace", "name"})

	// ChildApplies counts server-side apply requests sent for children, by controller and child kind.
	// In a steady state it stays flat: a rising rate without spec changes means a drift fight.
	ChildApplies = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantwire_child_applies_total",
		Help: "Server-side apply requests sent for child objects.",
	}, []string{"controller", "kind"})

	// StatusWrites counts status subresource writes, by kind. Converging objects write about twice
	// (their first status and Ready; see status.Coalescer); in a steady state it stays flat.
	StatusWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantwire_status_writes_total",
		Help: "Status subresource writes, by resource kind.",
	}, []string{"kind"})

	// WorkloadRollouts counts pod-template changes of sync workloads caused by a rotation, by cause
	// (credentials or keys). Each rotation should add exactly one per affected Integration.
	WorkloadRollouts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantwire_workload_rollouts_total",
		Help: "Sync workload rollouts caused by a credential or key rotation.",
	}, []string{"cause"})

	// KeyAge is the age in seconds of each tenant's active key version.
	KeyAge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tenantwire_key_age_seconds",
		Help: "Age of the active keyring version of a tenant.",
	}, []string{"tenant"})

	// NextRotation is the Unix time of each tenant's next scheduled key rotation (generated keys).
	NextRotation = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tenantwire_key_next_rotation_timestamp_seconds",
		Help: "Unix time of the next scheduled keyring rotation of a tenant.",
	}, []string{"tenant"})

	// KeyRotations counts keyring rotations (new versions) per tenant.
	KeyRotations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantwire_key_rotations_total",
		Help: "Keyring rotations, per tenant.",
	}, []string{"tenant"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(Ready, ChildApplies, StatusWrites, WorkloadRollouts, KeyAge, NextRotation, KeyRotations)
}

// SetReady records whether an object is Ready.
func SetReady(kind, namespace, name string, ready bool) {
	v := 0.0
	if ready {
		v = 1
	}
	Ready.WithLabelValues(kind, namespace, name).Set(v)
}

// ForgetReady drops the series of a deleted object.
func ForgetReady(kind, namespace, name string) {
	Ready.DeleteLabelValues(kind, namespace, name)
}
