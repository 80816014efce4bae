package main

import (
	"context"
	"fmt"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// esoPhase is what the External Secrets Operator did during one phase. Both phases wait for it,
// so these say whether it did the same work in each, and whether it was waiting for
// ExternalSecrets to appear (last created close to last synced) or working through a backlog.
type esoPhase struct {
	Requests, Writes, Reconciles float64
	// ReconcileSeconds is the wall time its ExternalSecret reconciles took, CPUSeconds its process's
	// CPU: with one worker, a longer reconcile at the same CPU is time spent waiting on the API
	// server.
	ReconcileSeconds, CPUSeconds float64
	// results counts the reconciles by result: success, requeue, requeue_after, error.
	results map[string]float64
	// Since the phase's start, to the second (object timestamps have no finer grain).
	LastCreated, LastSynced time.Duration
}

// esoCounters reads ESO's cumulative API requests, writes and reconciles (by result).
func esoCounters(addr string) (esoPhase, error) {
	m, err := scrape(addr)
	if err != nil {
		return esoPhase{}, err
	}
	results := map[string]float64{}
	for _, r := range []string{"success", "requeue", "requeue_after", "error"} {
		results[r] = m.sum("controller_runtime_reconcile_total", `controller="externalsecret"`, `result="`+r+`"`)
	}
	return esoPhase{
		results:          results,
		Requests:         m.sum("rest_client_requests_total"),
		Writes:           m.mutating(),
		Reconciles:       m.sum("controller_runtime_reconcile_total", `controller="externalsecret"`),
		ReconcileSeconds: m.sum("controller_runtime_reconcile_time_seconds_sum", `controller="externalsecret"`),
		CPUSeconds:       m.sum("process_cpu_seconds_total"),
	}, nil
}

func (p esoPhase) minus(q esoPhase) esoPhase {
	p.Requests -= q.Requests
	p.Writes -= q.Writes
	p.Reconciles -= q.Reconciles
	p.ReconcileSeconds -= q.ReconcileSeconds
	p.CPUSeconds -= q.CPUSeconds
	results := map[string]float64{}
	for k, v := range p.results {
		results[k] = v - q.results[k]
	}
	p.results = results
	return p
}

// esoTimeline finds when the phase's last ExternalSecret was created and when the last one
// turned Ready, relative to the phase's start.
func esoTimeline(ctx context.Context, c client.Client, start time.Time, floor bool) (created, synced time.Duration, err error) {
	list := &esv1.ExternalSecretList{}
	if err := c.List(ctx, list); err != nil {
		return 0, 0, err
	}
	var lastCreated, lastSynced time.Time
	for _, es := range list.Items {
		if (es.Labels["tenantwire-bench"] == "floor") != floor || es.CreationTimestamp.Time.Before(start.Truncate(time.Second)) {
			continue
		}
		if t := es.CreationTimestamp.Time; t.After(lastCreated) {
			lastCreated = t
		}
		for _, cond := range es.Status.Conditions {
			if cond.Type == esv1.ExternalSecretReady && cond.Status == corev1.ConditionTrue && cond.LastTransitionTime.After(lastSynced) {
				lastSynced = cond.LastTransitionTime.Time
			}
		}
	}
	return lastCreated.Sub(start).Round(time.Second), lastSynced.Sub(start).Round(time.Second), nil
}

// esoDrain is what ESO did after a phase ended, until its ExternalSecret queue was empty.
type esoDrain struct {
	esoPhase
	Took time.Duration
}

// drainESO waits until ESO's ExternalSecret queue is empty and its reconcile count has held still
// for three scrapes a second apart, and reports the work since `before` (the phase's end).
//
// Every sync makes ESO reconcile its ExternalSecret once more (woken by its own finalizer, Secret
// and status writes), and with one worker that follow-up joins the back of the queue. A phase
// ends when its last ExternalSecret is synced, so the follow-ups queued behind it are still
// pending: at T=1000, about 5300 of the floor's. Without the drain they ran at the start of the
// operator phase and were counted, and waited for, as its own.
func drainESO(ctx context.Context, addr string, before esoPhase) (esoDrain, esoPhase, error) {
	start := time.Now()
	var last esoPhase
	still := 0
	for still < 3 {
		if err := sleep(ctx, time.Second); err != nil {
			return esoDrain{}, before, err
		}
		m, err := scrape(addr)
		if err != nil {
			return esoDrain{}, before, fmt.Errorf("ESO metrics: %w", err)
		}
		now, err := esoCounters(addr)
		if err != nil {
			return esoDrain{}, before, fmt.Errorf("ESO metrics: %w", err)
		}
		idle := m.sum("workqueue_depth", `name="externalsecret"`) == 0 &&
			m.sum("workqueue_unfinished_work_seconds", `name="externalsecret"`) == 0
		if idle && now.Reconciles == last.Reconciles {
			still++
		} else {
			still = 0
		}
		last = now
	}
	return esoDrain{esoPhase: last.minus(before), Took: time.Since(start).Round(time.Second)}, last, nil
}

func (d esoDrain) String() string {
	return fmt.Sprintf("%.0f more reconciles (%.0f requeue after, %.0f requeued or failed), %.0f API requests (%.0f writes) until its queue was empty, %s later",
		d.Reconciles, d.results["requeue_after"], d.results["requeue"]+d.results["error"], d.Requests, d.Writes, d.Took)
}

func (p esoPhase) String() string {
	return fmt.Sprintf("%.0f reconciles (%.0f success, %.0f requeue after, %.0f requeued or failed), %.0f API requests (%.0f writes); last ExternalSecret created at +%s, last synced at +%s; %s",
		p.Reconciles, p.results["success"], p.results["requeue_after"], p.results["requeue"]+p.results["error"], p.Requests, p.Writes, p.LastCreated, p.LastSynced, p.perReconcile())
}

// perReconcile says what one reconcile cost ESO on average: wall time and its own CPU.
func (p esoPhase) perReconcile() string {
	if p.Reconciles == 0 {
		return "no reconciles"
	}
	return fmt.Sprintf("%.1f ms a reconcile, %.1f ms of its CPU", 1000*p.ReconcileSeconds/p.Reconciles, 1000*p.CPUSeconds/p.Reconciles)
}
