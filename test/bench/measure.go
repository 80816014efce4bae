package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// metrics is one scrape of the operator's /metrics: sample lines by metric name.
type metrics map[string][]sample

type sample struct {
	labels string
	value  float64
}

func scrape(addr string) (metrics, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	m := metrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		name, labels := line[:sp], ""
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name, labels = line[:i], line[i:sp]
		}
		m[name] = append(m[name], sample{labels, v})
	}
	return m, sc.Err()
}

func (m metrics) sum(name string, fragments ...string) float64 {
	var s float64
	for _, x := range m[name] {
		ok := true
		for _, f := range fragments {
			ok = ok && strings.Contains(x.labels, f)
		}
		if ok {
			s += x.value
		}
	}
	return s
}

// mutating is every write request the operator's clients sent (events included).
func (m metrics) mutating() float64 {
	var n float64
	for _, verb := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		n += m.sum("rest_client_requests_total", `method="`+verb+`"`)
	}
	return n
}

// quantile estimates a quantile of a histogram summed over all its series, from bucket bounds.
func (m metrics) quantile(name string, q float64) time.Duration {
	buckets := map[float64]float64{}
	for _, x := range m[name+"_bucket"] {
		i := strings.Index(x.labels, `le="`)
		if i < 0 {
			continue
		}
		le := x.labels[i+4:]
		le = le[:strings.IndexByte(le, '"')]
		b, err := strconv.ParseFloat(le, 64)
		if err != nil {
			b = math.Inf(1)
		}
		buckets[b] += x.value
	}
	var bounds []float64
	for b := range buckets {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	if len(bounds) == 0 {
		return 0
	}
	total := buckets[bounds[len(bounds)-1]]
	for _, b := range bounds {
		if buckets[b] >= q*total {
			if math.IsInf(b, 1) {
				return time.Duration(bounds[len(bounds)-2] * float64(time.Second))
			}
			return time.Duration(b * float64(time.Second))
		}
	}
	return 0
}

// memPeaks are the operator's memory peaks in MiB.
type memPeaks struct {
	// RSS is the kernel's high-water mark (VmHWM).
	RSS float64
	// Anon and File split the resident set at its sampled peak: anonymous memory (heap, stacks,
	// runtime) and file-backed pages (the binary's code and read-only data).
	Anon, File float64
	// Heap is the peak of go_memstats_heap_inuse_bytes.
	Heap float64
}

// watchMemory samples the operator's resident set every second and its heap every fifteen; the
// returned function stops it and reports the peaks.
func watchMemory(ctx context.Context, c *cluster) func() memPeaks {
	var mu sync.Mutex
	var p memPeaks
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		// /metrics is scraped every 15s, not every second: serving it (a series per Tenant and
		// Integration) was a quarter of the operator's CPU at T=1000 under a 1s scrape, and a
		// tenth of all it allocated under a 5s one (run X), which a Prometheus scraping every 30s
		// never costs. The peak heap is sampled that often; /proc is read every second.
		for i := 0; ctx.Err() == nil; i++ {
			st := procStatus(c.manager.Process.Pid)
			if c.cgroup != nil {
				c.cgroup.sample()
			}
			var m metrics
			var err error
			if i%15 == 0 {
				m, err = scrape(c.metricsAddr)
			}
			mu.Lock()
			if err == nil && m != nil {
				p.Heap = math.Max(p.Heap, m.sum("go_memstats_heap_inuse_bytes")/(1<<20))
			}
			if st["RssAnon"]+st["RssFile"] > p.Anon+p.File {
				p.Anon, p.File = st["RssAnon"], st["RssFile"]
			}
			mu.Unlock()
			time.Sleep(time.Second)
		}
	}()
	return func() memPeaks {
		cancel()
		mu.Lock()
		defer mu.Unlock()
		p.RSS = procStatus(c.manager.Process.Pid)["VmHWM"]
		return p
	}
}

// procStatus reads the memory lines of /proc/<pid>/status, in MiB.
func procStatus(pid int) map[string]float64 {
	out := map[string]float64{}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		key, rest, ok := strings.Cut(line, ":")
		f := strings.Fields(rest)
		if !ok || len(f) != 2 || f[1] != "kB" {
			continue
		}
		kb, err := strconv.ParseFloat(f[0], 64)
		if err == nil {
			out[key] = kb / 1024
		}
	}
	return out
}

func (r result) print(w io.Writer) {
	var b strings.Builder
	defer func() { _, _ = io.WriteString(w, b.String()) }()
	fmt.Fprintf(&b, "T=%d x %d integrations (concurrency %d, QPS %g)\n", r.Tenants, r.Integrations, r.Concurrency, r.QPS)
	if r.SkipFloor {
		fmt.Fprintf(&b, "  floor: skipped (%d objects)\n", r.FloorObjects)
		fmt.Fprintf(&b, "  operator, first create to all Ready: %s\n", r.OperatorTime.Round(time.Millisecond))
	} else {
		fmt.Fprintf(&b, "  floor (plain client, %d objects): %s\n", r.FloorObjects, r.FloorTime.Round(time.Millisecond))
		fmt.Fprintf(&b, "  operator, first create to all Ready: %s  ratio operator/floor %.2f\n", r.OperatorTime.Round(time.Millisecond), r.timeRatio())
	}
	fmt.Fprintf(&b, "  operator write requests %.0f (server-side applies %.0f) vs minimum %d: ratio %.2f\n", r.MutatingRequests, r.ApplyRequests, r.MinimumWrites, r.MutatingRequests/float64(r.MinimumWrites))
	fmt.Fprintf(&b, "  applies by kind: %s\n  status writes by kind: %s; creates (events, keyrings): %.0f\n", r.AppliesByKind, r.StatusWritesByKind, r.Creates)
	fmt.Fprintf(&b, "  reconciles by controller: %s\n", r.ReconcilesByController)
	fmt.Fprintf(&b, "  status writes by the Ready reason written: %s\n", r.StatusWritesByReason)
	fmt.Fprintf(&b, "  writes by verb and resource (audit log, events not logged): %s\n", r.AuditWrites)
	fmt.Fprintf(&b, "  reads by verb and resource (audit log: uncached gets and lists, the caches' initial lists): %s\n", r.AuditReads)
	fmt.Fprintf(&b, "  peak RSS %.1f MiB (at the sampled peak: %.1f anonymous, %.1f file-backed), peak heap in use %.1f MiB, %s\n",
		r.PeakRSSMiB, r.PeakAnonMiB, r.PeakFileMiB, r.PeakHeapMiB, r.goMemLimit())
	fmt.Fprintf(&b, "  memory limit: %s\n  CPU limit: %s\n", r.memoryLimit(), r.cpuLimit())
	fmt.Fprintf(&b, "  ESO during the floor: %s\n    then %s\n", r.FloorESO, r.FloorESODrain)
	fmt.Fprintf(&b, "  ESO during the operator phase: %s\n    then %s\n", r.OperatorESO, r.OperatorESODrain)
	fmt.Fprintf(&b, "  CPU during the floor: %s\n  CPU during the operator phase: %s\n", r.FloorCPU, r.OperatorCPU)
	fmt.Fprintf(&b, "  reconcile duration p50 <= %s, p99 <= %s (histogram bucket bounds)\n", r.ReconcileP50, r.ReconcileP99)
	fmt.Fprintf(&b, "  writes in the 10s after the last Ready: %.0f; during the following %s of steady state: %.0f\n", r.SettleWrites, r.Steady, r.SteadyWrites)
}

// timeRatio is operator time over floor time; NaN when the floor was skipped.
func (r result) timeRatio() float64 {
	if r.SkipFloor {
		return math.NaN()
	}
	return r.OperatorTime.Seconds() / r.FloorTime.Seconds()
}

// memoryLimit says how the memory limit was applied and, for a cgroup, what it saw: its peak
// usage counts the page cache charged to it beside anonymous memory, as a container's does.
func (r result) memoryLimit() string {
	switch {
	case r.MemoryLimit == "":
		return "none"
	case r.Cgroup.Version == 0:
		return r.MemoryLimit + " as GOMEMLIMIT only"
	case r.Cgroup.Version == 1:
		return fmt.Sprintf("%s cgroup v1: peak %.1f MiB, %d OOM kills, limit hit %d times", r.MemoryLimit, r.Cgroup.peakMiB(), r.Cgroup.OOMKills, r.Cgroup.Failcnt)
	}
	return fmt.Sprintf("%s cgroup v%d: peak %.1f MiB, %d OOM kills", r.MemoryLimit, r.Cgroup.Version, r.Cgroup.peakMiB(), r.Cgroup.OOMKills)
}

// cpuLimit says what CPU limit the operator ran under and how often its cgroup held it back.
func (r result) cpuLimit() string {
	if r.CPULimit == "" {
		return "none"
	}
	return fmt.Sprintf("%s, %s", r.CPULimit, r.CPUThrottling)
}

// goMemLimit is the Go memory limit the operator reported.
func (r result) goMemLimit() string {
	if r.GoMemLimitMiB == 0 {
		return "no GOMEMLIMIT"
	}
	return fmt.Sprintf("GOMEMLIMIT %.1f MiB", r.GoMemLimitMiB)
}

// byLabel sums a counter's series by the value of one label: `kind` of applies, say.
func (m metrics) byLabel(name, label string) string {
	sums := map[string]float64{}
	for _, x := range m[name] {
		_, rest, ok := strings.Cut(x.labels, label+`="`)
		if !ok {
			continue
		}
		v, _, _ := strings.Cut(rest, `"`)
		sums[v] += x.value
	}
	keys := make([]string, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, sums[k]))
	}
	return strings.Join(parts, ", ")
}
