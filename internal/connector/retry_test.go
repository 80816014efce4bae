package connector

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := ts("2026-01-02T03:04:05Z")
	tests := map[string]struct {
		header string
		want   time.Duration
		wantOK bool
	}{
		"absent":           {header: "", wantOK: false},
		"seconds":          {header: "7", want: 7 * time.Second, wantOK: true},
		"zero":             {header: "0", want: 0, wantOK: true},
		"capped seconds":   {header: "86400", want: time.Minute, wantOK: true},
		"http date":        {header: now.Add(20 * time.Second).Format(http.TimeFormat), want: 20 * time.Second, wantOK: true},
		"capped http date": {header: now.Add(time.Hour).Format(http.TimeFormat), want: time.Minute, wantOK: true},
		"past http date":   {header: now.Add(-time.Hour).Format(http.TimeFormat), want: 0, wantOK: true},
		"negative":         {header: "-3", wantOK: false},
		"garbage":          {header: "soon", wantOK: false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set("Retry-After", tt.header)
			}
			got, ok := retryAfter(h, now, time.Minute)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tt.header, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// scripted answers the list call with the statuses in order, then with an empty page.
func scripted(statuses ...int) (http.Handler, *atomic.Int64) {
	var calls atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1))
		if n <= len(statuses) {
			if statuses[n-1] == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "1")
			}
			writeJSON(w, statuses[n-1], map[string]any{"error": map[string]string{"code": "boom"}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": []any{}, "total": 0})
	}), &calls
}

func TestRetryPolicy(t *testing.T) {
	tests := map[string]struct {
		statuses  []int
		wantCalls int64
		wantErr   []string
		// wantWaits are the waits before each retry, when they are exact (Retry-After).
		wantWaits []time.Duration
	}{
		"429 waits Retry-After (capped) then succeeds": {
			statuses: []int{429}, wantCalls: 2, wantWaits: []time.Duration{40 * time.Millisecond},
		},
		"5xx retried then succeeds": {statuses: []int{503, 502}, wantCalls: 3},
		"5xx until the limit fails": {
			statuses: []int{500, 500, 500}, wantCalls: 3,
			wantErr: []string{"connector: cerbo: list patients: HTTP 500", "gave up after 3 attempts"},
		},
		"404 is permanent": {
			statuses: []int{404}, wantCalls: 1,
			wantErr: []string{"connector: cerbo: list patients: HTTP 404 Not Found (boom)"},
		},
		"401 with static credentials is permanent": {
			statuses: []int{401}, wantCalls: 1,
			wantErr: []string{"HTTP 401", "credentials were rejected"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			handler, calls := scripted(tt.statuses...)
			srv := newFake(t, handler)
			o := testOptions(srv.Server)
			var mu sync.Mutex
			var waits []time.Duration
			o.OnRetry = func(_ error, wait time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				waits = append(waits, wait)
			}
			c := mustNew(t, SystemCerbo, srv.URL, cerboCreds, o)
			start := time.Now()
			_, err := c.Changes(context.Background(), "")
			elapsed := time.Since(start)
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("server saw %d calls, want %d", got, tt.wantCalls)
			}
			if len(tt.wantErr) == 0 && err != nil {
				t.Fatalf("Changes: %v", err)
			}
			for _, want := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Changes error = %v, want it to contain %q", err, want)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(waits) != int(tt.wantCalls)-1 {
				t.Errorf("OnRetry called %d times, want %d", len(waits), tt.wantCalls-1)
			}
			for i, want := range tt.wantWaits {
				if i >= len(waits) || waits[i] != want {
					t.Errorf("wait %d = %v, want %v (all: %v)", i, waits, want, waits)
				}
				if elapsed < want {
					t.Errorf("call returned after %v, before the %v it had to wait", elapsed, want)
				}
			}
		})
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	handler, calls := scripted(503, 503, 503, 503)
	srv := newFake(t, handler)
	o := testOptions(srv.Server)
	o.InitialBackoff, o.MaxBackoff = time.Hour, time.Hour
	c := mustNew(t, SystemCerbo, srv.URL, cerboCreds, o)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.Changes(ctx, "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Changes = %v, want the context's deadline", err)
	}
	if time.Since(start) > 5*time.Second || calls.Load() != 1 {
		t.Errorf("took %v and %d calls; want to stop at the deadline after 1", time.Since(start), calls.Load())
	}
}
