package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestRatio(t *testing.T) {
	tests := map[string]struct {
		path, base sample
		want       float64
	}{
		"half the throughput is twice the time": {path: sample{ops: 100, elapsed: time.Second}, base: sample{ops: 200, elapsed: time.Second}, want: 2},
		"faster than the baseline":              {path: sample{ops: 400, elapsed: 2 * time.Second}, base: sample{ops: 100, elapsed: time.Second}, want: 0.5},
		"the same":                              {path: sample{ops: 30, elapsed: 3 * time.Second}, base: sample{ops: 10, elapsed: time.Second}, want: 1},
		"no operations is no ratio":             {path: sample{ops: 0, elapsed: time.Second}, base: sample{ops: 10, elapsed: time.Second}, want: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ratio(tc.path, tc.base); got != tc.want {
				t.Errorf("ratio = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPoolComparesRoundByRound(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	base := []sample{{ops: 100, elapsed: time.Second}, {ops: 300, elapsed: time.Second}}
	rounds := []sample{
		{ops: 50, elapsed: time.Second, latencies: ms(4, 1, 3)},
		{ops: 200, elapsed: time.Second, latencies: ms(2, 5), exhausted: true},
	}
	f := pool(rounds, base)
	// Pooled: 250 ops in 2s against 400 in 2s; rounds: 100/50 = 2 and 300/200 = 1.5.
	if f.Ops != 250 || f.Elapsed != 2*time.Second || f.Ratio != 1.6 {
		t.Errorf("pooled ops %d in %s, ratio %v; want 250 in 2s, ratio 1.6", f.Ops, f.Elapsed, f.Ratio)
	}
	if f.RatioMin != 1.5 || f.RatioMax != 2 {
		t.Errorf("rounds' ratio range %v-%v, want 1.5-2", f.RatioMin, f.RatioMax)
	}
	if f.P50 != 3*time.Millisecond || f.P99 != 5*time.Millisecond {
		t.Errorf("p50 %s p99 %s over the pooled latencies 1..5ms, want 3ms and 5ms", f.P50, f.P99)
	}
	if !f.Exhausted {
		t.Error("a round that ran out of patients is not reported")
	}
	if self := pool(base, base); self.Ratio != 1 || self.RatioMin != 1 || self.RatioMax != 1 {
		t.Errorf("the baseline against itself: %v (%v-%v), want 1 (1-1)", self.Ratio, self.RatioMin, self.RatioMax)
	}
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i + 1)
	}
	tests := map[string]struct {
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		"median of 1..100":  {hundred, 0.5, 50},
		"p99 of 1..100":     {hundred, 0.99, 99},
		"max of 1..100":     {hundred, 1, 100},
		"p99 of one sample": {[]time.Duration{7}, 0.99, 7},
		"no samples":        {nil, 0.5, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.q); got != tc.want {
				t.Errorf("percentile(%v) = %d, want %d", tc.q, got, tc.want)
			}
		})
	}
}

func TestMeasure(t *testing.T) {
	ctx := context.Background()
	t.Run("a limit stops the run and gives each index once", func(t *testing.T) {
		seen := make([]int, 50)
		s, err := measure(ctx, 4, time.Minute, len(seen), 1, func(_ context.Context, _ *rand.Rand, i int) error {
			seen[i]++ // each index goes to one worker only, so this does not race
			return nil
		})
		if err != nil || s.ops != len(seen) || !s.exhausted || len(s.latencies) != s.ops {
			t.Fatalf("ops %d, latencies %d, exhausted %v, err %v; want %d ops, exhausted", s.ops, len(s.latencies), s.exhausted, err, len(seen))
		}
		for i, n := range seen {
			if n != 1 {
				t.Errorf("index %d done %d times", i, n)
			}
		}
	})
	t.Run("an error stops the run and is returned", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := measure(ctx, 2, time.Minute, 0, 1, func(context.Context, *rand.Rand, int) error { return boom })
		if !errors.Is(err, boom) {
			t.Errorf("err = %v, want boom", err)
		}
	})
	t.Run("workers of a round draw the same sequence on every path", func(t *testing.T) {
		draw := func() []int {
			var got []int
			_, _ = measure(ctx, 1, time.Minute, 5, 7, func(_ context.Context, rng *rand.Rand, _ int) error {
				got = append(got, rng.IntN(1000))
				return nil
			})
			return got
		}
		if a, b := draw(), draw(); len(a) != 5 || !slices.Equal(a, b) {
			t.Errorf("two runs with the same seed drew %v and %v", a, b)
		}
	})
}
