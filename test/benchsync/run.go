package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"time"
)

// config is what one run measures.
type config struct {
	// Rows is the number of mapping rows in the table before the timing starts.
	Rows        int
	Concurrency []int
	// Duration is how long each path runs each operation in each round.
	Duration time.Duration
	Rounds   int
}

// The operations timed, in the order they run.
const (
	opLookup    = "lookup"
	opPutNew    = "put, new patient"
	opOverwrite = "put, overwrite"
)

var operations = []string{opLookup, opPutNew, opOverwrite}

// runDatabase fills db's table and times every operation on every path at every concurrency.
// Progress goes to log, one line per figure.
func runDatabase(ctx context.Context, backend string, db *database, cfg config, log io.Writer) ([]figures, error) {
	codec, err := newCodec()
	if err != nil {
		return nil, err
	}
	existing, err := makePatients(codec, 0, max(1, cfg.Rows/len(systems)))
	if err != nil {
		return nil, err
	}
	var rows []patientRow
	for _, p := range existing {
		rows = append(rows, p.rows[:]...)
	}
	if err := db.raw.populate(ctx, rows); err != nil {
		return nil, fmt.Errorf("filling the table: %w", err)
	}
	// The raw driver is first: pool compares every path with paths[0].
	paths := []path{
		statementPath{label: pathRaw, run: db.raw},
		statementPath{label: pathStore, run: storeStatements{db.store}},
		mappingstorePath{s: db.store, c: codec},
	}
	newPatients := patientSource{codec: codec, next: len(existing), min: len(existing)}

	var out []figures
	for _, workers := range cfg.Concurrency {
		for _, op := range operations {
			samples := make([][]sample, len(paths))
			for round := range cfg.Rounds {
				// Rotate the order each round, so that no path always runs first after a
				// checkpoint or last while the table is largest.
				for k := range paths {
					i := (k + round) % len(paths)
					s, err := timeOperation(ctx, op, paths[i], existing, &newPatients, workers, cfg.Duration, uint64(round))
					if err != nil {
						return nil, fmt.Errorf("%s, %s, %s, concurrency %d: %w", backend, op, paths[i].name(), workers, err)
					}
					samples[i] = append(samples[i], s)
				}
			}
			for i, p := range paths {
				f := pool(samples[i], samples[0])
				f.Backend, f.Concurrency, f.Operation, f.Path = backend, workers, op, p.name()
				_, _ = fmt.Fprintln(log, f.line())
				out = append(out, f)
			}
		}
	}
	return out, nil
}

func timeOperation(ctx context.Context, op string, p path, existing []patient, fresh *patientSource,
	workers int, d time.Duration, seed uint64) (sample, error) {
	var do func(ctx context.Context, rng *rand.Rand, i int) error
	limit := 0
	switch op {
	case opLookup:
		do = func(ctx context.Context, rng *rand.Rand, _ int) error {
			return p.lookup(ctx, &existing[rng.IntN(len(existing))], rng.IntN(len(systems)))
		}
	case opOverwrite:
		do = func(ctx context.Context, rng *rand.Rand, _ int) error {
			return p.put(ctx, &existing[rng.IntN(len(existing))])
		}
	case opPutNew:
		batch, err := fresh.take(d)
		if err != nil {
			return sample{}, err
		}
		limit = len(batch)
		do = func(ctx context.Context, _ *rand.Rand, i int) error { return p.put(ctx, &batch[i]) }
	default:
		return sample{}, fmt.Errorf("unknown operation %q", op)
	}
	// Collect the previous run's garbage now rather than during this run.
	runtime.GC()
	s, err := measure(ctx, workers, d, limit, seed, do)
	if op == opPutNew {
		fresh.bestRate = max(fresh.bestRate, s.rate())
	}
	return s, err
}
