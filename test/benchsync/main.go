// Command benchsync runs two scenarios. "store" measures the patient-ID mapping's lookups and
// upserts per second on SQLite and PostgreSQL, against a baseline measured in the same run: the raw
// driver (database/sql with modernc SQLite, a pgx pool) running the store's own statements with the
// same values, rows and concurrency. Each operation is also timed through the store alone, with
// values sealed beforehand, so that the cost of the cryptography and the cost of the store show
// separately. "backfill" moves generated Cerbo patients into each destination fake through the
// real runtime and compares the time with the vendor's rate-limit floor (backfill.go).
// Run it with `make bench-sync`; docs/benchmarks.md explains the figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	backends := flag.String("backends", backendSQLite+","+backendPostgres, "comma-separated backends to measure: sqlite, postgres")
	postgresDSN := flag.String("postgres-dsn", "", "PostgreSQL database to measure, which must hold no mapping rows (the benchmark leaves its rows in it); empty starts a throwaway cluster from the PostgreSQL server binaries")
	rows := flag.Int("rows", 20000, "mapping rows in the table before the timing starts")
	concurrency := flag.String("concurrency", "1,8", "comma-separated numbers of concurrent callers to run")
	duration := flag.Duration("duration", 2*time.Second, "how long each path runs each operation in each round")
	rounds := flag.Int("rounds", 5, "rounds per operation; each runs every path once, in a rotating order")
	out := flag.String("out", "", "also write the results as Markdown to this file")
	scenarios := flag.String("scenarios", scenarioStore+","+scenarioBackfill, "comma-separated scenarios to run: store, backfill")
	patients := flag.Int("patients", 10000, "backfill: Cerbo patients to move into each destination")
	scale := flag.Float64("scale", 5, "backfill: the vendors' published rate-limit windows are divided by this, in the fakes, the connectors and the floor alike")
	destinations := flag.String("destinations", "quickbooks,zoho,gohighlevel", "backfill: comma-separated destinations")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof reads it)")
	flag.Parse()

	cfg := config{Rows: *rows, Duration: *duration, Rounds: *rounds}
	var err error
	if cfg.Concurrency, err = positiveInts(*concurrency); err != nil {
		fatalf("-concurrency: %v", err)
	}
	if cfg.Rows < len(systems) || cfg.Duration <= 0 || cfg.Rounds <= 0 {
		fatalf("-rows must be at least %d, -duration and -rounds positive", len(systems))
	}
	bf := backfillConfig{Patients: *patients, Scale: *scale, Destinations: strings.Split(*destinations, ",")}
	if bf.Patients <= 0 || bf.Scale <= 0 {
		fatalf("-patients and -scale must be positive")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fatalf("-cpuprofile: %v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatalf("-cpuprofile: %v", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	r := report{Command: "go run ./test/benchsync " + strings.Join(os.Args[1:], " "), LoadBefore: loadAverage()}
	for _, scenario := range strings.Split(*scenarios, ",") {
		switch strings.TrimSpace(scenario) {
		case scenarioStore:
			if err := run(ctx, &r, strings.Split(*backends, ","), *postgresDSN, cfg); err != nil {
				fatalf("%v", err)
			}
		case scenarioBackfill:
			r.BackfillConfig = &bf
			if r.Backfill, err = runBackfill(ctx, bf, os.Stdout); err != nil {
				fatalf("%v", err)
			}
		default:
			fatalf("unknown scenario %q (want %s or %s)", scenario, scenarioStore, scenarioBackfill)
		}
	}
	r.LoadAfter = loadAverage()
	md := r.markdown()
	fmt.Print("\n" + md)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(md), 0o644); err != nil {
			fatalf("writing %s: %v", *out, err)
		}
		fmt.Printf("results written to %s\n", *out)
	}
}

// The scenarios.
const (
	scenarioStore    = "store"
	scenarioBackfill = "backfill"
)

// run measures each backend in turn into r and stops what it started, also when it fails.
func run(ctx context.Context, r *report, backends []string, postgresDSN string, cfg config) (err error) {
	r.config = cfg
	for i, b := range backends {
		backends[i] = strings.TrimSpace(b)
		if backends[i] != backendSQLite && backends[i] != backendPostgres {
			return fmt.Errorf("unknown backend %q (want %s or %s)", b, backendSQLite, backendPostgres)
		}
		// Start the throwaway cluster before measuring anything, so that missing PostgreSQL
		// binaries fail the run at once rather than after the SQLite figures.
		if backends[i] == backendPostgres && postgresDSN == "" {
			dsn, stopCluster, err := throwawayPostgres(ctx)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, stopCluster()) }()
			postgresDSN = dsn
		}
	}
	for _, backend := range backends {
		var db *database
		if backend == backendSQLite {
			db, err = openSQLite(ctx)
		} else {
			db, err = openPostgres(ctx, postgresDSN)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", backend, err)
		}
		figs, runErr := runDatabase(ctx, backend, db, cfg, os.Stdout)
		if err = errors.Join(runErr, db.close()); err != nil {
			return err
		}
		r.Figures = append(r.Figures, figs...)
		r.Servers = append(r.Servers, db.server)
	}
	return nil
}

func positiveInts(list string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchsync: "+format+"\n", args...)
	os.Exit(1)
}
