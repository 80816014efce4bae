package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// report is everything a run prints and writes.
type report struct {
	config
	Command               string
	Servers               []string
	LoadBefore, LoadAfter string
	Figures               []figures
	// BackfillConfig is nil when the backfill scenario did not run.
	BackfillConfig *backfillConfig
	Backfill       []backfillFigures
}

func (f figures) line() string {
	note := ""
	if f.Exhausted {
		note = " (ran out of prepared patients in a round: that round was shorter)"
	}
	return fmt.Sprintf("%-8s c=%-2d %-16s %-10s %9.0f ops/s  p50 %-9s p99 %-9s ours/raw %.2f (%.2f-%.2f)%s",
		f.Backend, f.Concurrency, f.Operation, f.Path, f.rate(), latency(f.P50), latency(f.P99), f.Ratio, f.RatioMin, f.RatioMax, note)
}

func (r report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Command: `%s`\n\n", r.Command)
	fmt.Fprintf(&b, "Machine: %d CPUs, %s/%s; load average (1, 5, 15 min) %s at the start, %s at the end.\n\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, r.LoadBefore, r.LoadAfter)
	servers := ""
	if len(r.Servers) > 0 {
		servers = "; " + strings.Join(r.Servers, "; ")
	}
	fmt.Fprintf(&b, "Versions: %s, %s%s.\n\n", runtime.Version(), strings.Join(moduleVersions("modernc.org/sqlite", "github.com/jackc/pgx/v5"), ", "), servers)
	if len(r.Figures) > 0 {
		r.storeMarkdown(&b)
	}
	if r.BackfillConfig != nil {
		r.backfillMarkdown(&b)
	}
	fmt.Fprintf(&b, "\nGenerated %s.\n", time.Now().UTC().Format(time.RFC3339))
	return b.String()
}

func (r report) storeMarkdown(b *strings.Builder) {
	fmt.Fprintf(b, "## Mapping store\n\n")
	fmt.Fprintf(b, "Workload: %d mapping rows (%d patients known in %d systems) before the timing; a keyring of %d versions. "+
		"Each figure pools %d round(s) of %s per path; the paths run in a rotating order.\n\n",
		r.Rows, r.Rows/len(systems), len(systems), keyVersions, r.Rounds, r.Duration)
	fmt.Fprintf(b, "| backend | concurrency | operation | path | ops/s | p50 | p99 | ours/raw (rounds' range) |\n")
	fmt.Fprintf(b, "|---|---|---|---|---|---|---|---|\n")
	for _, f := range r.Figures {
		ratio := "1 (baseline)"
		if f.Path != pathRaw {
			ratio = fmt.Sprintf("%.2f (%.2f–%.2f)", f.Ratio, f.RatioMin, f.RatioMax)
		}
		exhausted := ""
		if f.Exhausted {
			exhausted = " *"
		}
		fmt.Fprintf(b, "| %s | %d | %s | %s | %.0f%s | %s | %s | %s |\n",
			f.Backend, f.Concurrency, f.Operation, f.Path, f.rate(), exhausted, latency(f.P50), latency(f.P99), ratio)
	}
	if strings.Contains(b.String(), " * |") {
		fmt.Fprintf(b, "\n\\* a round ran out of prepared patients and stopped before its duration; its rate stands.\n")
	}
}

func (r report) backfillMarkdown(b *strings.Builder) {
	c := r.BackfillConfig
	fmt.Fprintf(b, "\n## Backfill\n\n")
	fmt.Fprintf(b, "Workload: %d generated Cerbo patients moved by one sync cycle into each destination fake, "+
		"fields name, email and phone, SQLite mapping store. Every published rate-limit window is divided by **%g** "+
		"(in the fakes, the connectors' pace and the floor alike), so the figures are those of a run %g times as long at the published limits.\n\n", c.Patients, c.Scale, c.Scale)
	fmt.Fprintf(b, "| destination | writes | elapsed | records/s | requests (minimum) | 429s | duplicates | lost | floor | elapsed/floor |\n")
	fmt.Fprintf(b, "|---|---|---|---|---|---|---|---|---|---|\n")
	for _, f := range r.Backfill {
		floor, ratio := "none (no published rate)", "n/a"
		if f.Floor > 0 {
			floor, ratio = roundDuration(f.Floor).String(), fmt.Sprintf("%.2f", f.ratio())
		}
		fmt.Fprintf(b, "| %s | %s | %s | %.1f | %d (%d) | %d | %d | %d | %s | %s |\n",
			f.Destination, f.Limit, roundDuration(f.Elapsed), f.rate(), f.Sent, f.MinRequests, f.Throttled, f.Duplicates, f.Lost, floor, ratio)
	}
	fmt.Fprintf(b, "\nAt the published limits (scale 1) the floors are %g times these. A run the vendor's limit binds "+
		"(elapsed/floor near 1) takes %g times as long there; one this machine binds (CPU, disk) is nearer its floor there.\n", c.Scale, c.Scale)
}

// latency rounds to a precision that the noise of a shared machine leaves meaningful.
func latency(d time.Duration) string {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

// moduleVersions names the versions of the given dependencies built into this binary.
func moduleVersions(paths ...string) []string {
	info, ok := debug.ReadBuildInfo()
	var out []string
	for _, p := range paths {
		v := "(unknown version)"
		if ok {
			for _, d := range info.Deps {
				if d.Path == p {
					v = d.Version
				}
			}
		}
		out = append(out, p+" "+v)
	}
	return out
}

// loadAverage reads the 1, 5 and 15 minute load averages: the benchmark shares its cores.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if fields := strings.Fields(string(b)); err == nil && len(fields) >= 3 {
		return strings.Join(fields[:3], ", ")
	}
	return "unknown"
}
