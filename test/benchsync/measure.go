package main

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// sample is one timed run of one operation on one path.
type sample struct {
	ops       int
	elapsed   time.Duration
	latencies []time.Duration
	// exhausted means the run stopped before its duration because it used every prepared patient.
	exhausted bool
}

func (s sample) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.ops) / s.elapsed.Seconds()
}

// measure runs do on workers goroutines for d, or until limit operations have started when limit
// is positive. Operation i gets the index i (each index once across workers) and its worker's
// random source, seeded by (seed, worker) so that every path of a round draws the same sequence.
func measure(ctx context.Context, workers int, d time.Duration, limit int, seed uint64,
	do func(ctx context.Context, rng *rand.Rand, i int) error) (sample, error) {
	var (
		next      atomic.Int64
		exhausted atomic.Bool
		wg        sync.WaitGroup
		mu        sync.Mutex
		firstErr  error
		all       []time.Duration
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			var lat []time.Duration
			var err error
			for now := time.Now(); now.Before(deadline) && ctx.Err() == nil; {
				i := int(next.Add(1) - 1)
				if limit > 0 && i >= limit {
					exhausted.Store(true)
					break
				}
				if err = do(ctx, rng, i); err != nil {
					break
				}
				end := time.Now()
				lat = append(lat, end.Sub(now))
				now = end
			}
			mu.Lock()
			defer mu.Unlock()
			all = append(all, lat...)
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return sample{ops: len(all), elapsed: time.Since(start), latencies: all, exhausted: exhausted.Load()}, firstErr
}

// percentile returns the q-quantile (0 < q <= 1) of sorted latencies by the nearest-rank method.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// figures are one path's results for one operation, pooled over the rounds.
type figures struct {
	Backend     string
	Concurrency int
	Operation   string
	Path        string
	Ops         int
	Elapsed     time.Duration
	P50, P99    time.Duration
	// Ratio is this path's time per operation over the raw driver's: 1.25 means 25% slower.
	Ratio float64
	// RatioMin and RatioMax are the lowest and highest ratio of a single round: how much the ratio
	// moved with the load of the machine.
	RatioMin, RatioMax float64
	Exhausted          bool
}

func (f figures) rate() float64 { return sample{ops: f.Ops, elapsed: f.Elapsed}.rate() }

// ratio is the time per operation of path over that of base; throughputs are operations per
// second, so it is base's rate over path's.
func ratio(path, base sample) float64 {
	if path.rate() == 0 {
		return 0
	}
	return base.rate() / path.rate()
}

// pool sums one path's rounds and compares each with the baseline's round of the same index.
func pool(rounds, baseline []sample) figures {
	var total sample
	f := figures{RatioMin: -1}
	for i, s := range rounds {
		total.ops += s.ops
		total.elapsed += s.elapsed
		total.latencies = append(total.latencies, s.latencies...)
		f.Exhausted = f.Exhausted || s.exhausted
		if i < len(baseline) {
			r := ratio(s, baseline[i])
			if f.RatioMin < 0 || r < f.RatioMin {
				f.RatioMin = r
			}
			f.RatioMax = max(f.RatioMax, r)
		}
	}
	var base sample
	for _, s := range baseline {
		base.ops += s.ops
		base.elapsed += s.elapsed
	}
	slices.Sort(total.latencies)
	f.Ops, f.Elapsed = total.ops, total.elapsed
	f.P50, f.P99 = percentile(total.latencies, 0.50), percentile(total.latencies, 0.99)
	f.Ratio = ratio(total, base)
	return f
}
