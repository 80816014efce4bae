// Command bench measures the operator at scale on the simulated cluster (real kube-apiserver, etcd,
// controller-manager, scheduler, kwok nodes and the real External Secrets Operator): T tenants with
// N integrations each, against a floor measured in the same run, in which a plain client creates
// the same child objects with the same concurrency and QPS. Run it with `make bench`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/resource"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

func main() {
	tenants := flag.String("tenants", "100,1000", "comma-separated tenant counts to run")
	integrations := flag.Int("integrations", 3, "integrations per tenant")
	concurrency := flag.Int("concurrency", 16, "parallel creators (floor) and reconciles per controller (operator)")
	qps := flag.Float64("qps", 200, "client QPS of both the floor and the operator")
	steady := flag.Duration("steady", 30*time.Second, "how long to watch for writes after convergence")
	timeout := flag.Duration("timeout", 40*time.Minute, "give up on one run after this long")
	out := flag.String("out", "", "write the results as Markdown to this file")
	profileDir := flag.String("profile-dir", "", "save CPU profiles of the operator phase and a heap profile at its end (with go tool pprof -top reports) in this directory")
	memoryLimit := flag.String("memory-limit", "", "run the operator in a memory cgroup with this limit (e.g. 128Mi), as in a container; where none can be made, only with the GOMEMLIMIT it would give; empty: no limit")
	cpuLimit := flag.String("cpu-limit", "", "run the operator in a cpu cgroup whose CFS quota is this limit (e.g. 1, the chart's limits.cpu, or 500m), as in a container; empty: no limit")
	skipFloor := flag.Bool("skip-floor", false, "leave the floor phase out (no time ratio): for iterating on the operator's writes and memory")
	sharedCluster := flag.Bool("shared-cluster", false, "run the operator phase on the floor's cluster, with the floor's objects still in it (every run recorded before this option); by default each phase starts a cluster of its own")
	operatorArgs := flag.String("operator-args", "", "extra manager flags, space-separated (e.g. --status-settle-delay=5s)")
	requestCosts := flag.Int("request-costs", 0, "instead of the phases, measure what the API server spends on each kind of request the phases differ in, in this many interleaved rounds on one simulated cluster")
	flag.Parse()
	// The bench's watch caches would otherwise complain that no logger is set.
	ctrllog.SetLogger(logr.Discard())
	var limitBytes int64
	if *memoryLimit != "" {
		q, err := resource.ParseQuantity(*memoryLimit)
		if err != nil || q.Value() <= 0 {
			fatalf("bad -memory-limit %q", *memoryLimit)
		}
		limitBytes = q.Value()
	}
	var cpuMillis int64
	if *cpuLimit != "" {
		q, err := resource.ParseQuantity(*cpuLimit)
		if err != nil || q.MilliValue() <= 0 {
			fatalf("bad -cpu-limit %q", *cpuLimit)
		}
		cpuMillis = q.MilliValue()
	}

	if *profileDir != "" {
		if err := os.MkdirAll(*profileDir, 0o755); err != nil {
			fatalf("%v", err)
		}
	}
	if *requestCosts > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		cfg := config{Integrations: *integrations, Concurrency: *concurrency, QPS: *qps}
		if err := runRequestCosts(ctx, cfg, *requestCosts, os.Stdout); err != nil {
			fatalf("request costs: %v", err)
		}
		return
	}
	var results []result
	for _, s := range strings.Split(*tenants, ",") {
		t, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || t <= 0 {
			fatalf("bad -tenants value %q", s)
		}
		cfg := config{Tenants: t, Integrations: *integrations, Concurrency: *concurrency, QPS: *qps, Steady: *steady, ProfileDir: *profileDir,
			MemoryLimit: *memoryLimit, MemoryLimitBytes: limitBytes, CPULimit: *cpuLimit, CPULimitMillis: cpuMillis, OperatorArgs: strings.Fields(*operatorArgs), SkipFloor: *skipFloor,
			SharedCluster: *sharedCluster}
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		r, err := run(ctx, cfg)
		cancel()
		if err != nil {
			// Keep what the earlier sizes measured: a larger run that times out must not cost them.
			if *out != "" && len(results) > 0 {
				if werr := writeMarkdown(*out, results); werr == nil {
					fmt.Printf("results of the completed runs written to %s\n", *out)
				}
			}
			fatalf("T=%d: %v", t, err)
		}
		r.print(os.Stdout)
		results = append(results, r)
	}
	if *out != "" {
		if err := writeMarkdown(*out, results); err != nil {
			fatalf("writing %s: %v", *out, err)
		}
		fmt.Printf("results written to %s\n", *out)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}
