package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

func writeMarkdown(path string, results []result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "| T | integrations | floor | operator | operator/floor | writes (min) | writes/min | peak RSS (anon + file) | peak heap | memory limit | CPU limit | reconcile p50 / p99 | steady writes |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %d | %d | %s | %s | %.2f | %.0f (%d) | %.2f | %.1f MiB (%.0f + %.0f) | %.1f MiB | %s; %s | %s | %s / %s | %.0f in %s |\n",
			r.Tenants, r.Tenants*r.Integrations, r.FloorTime.Round(100*time.Millisecond), r.OperatorTime.Round(100*time.Millisecond),
			r.timeRatio(), r.MutatingRequests, r.MinimumWrites, r.MutatingRequests/float64(r.MinimumWrites),
			r.PeakRSSMiB, r.PeakAnonMiB, r.PeakFileMiB, r.PeakHeapMiB, r.memoryLimit(), r.goMemLimit(), r.cpuLimit(), r.ReconcileP50, r.ReconcileP99, r.SteadyWrites, r.Steady)
	}
	fmt.Fprintf(&b, "\nMachine: %d CPUs, %s/%s, %s; generated %s.\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), time.Now().UTC().Format(time.RFC3339))
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
