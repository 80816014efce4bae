package connector

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
	"github.com/tenantwire/tenantwire/internal/record"
)

// rateLimitedRun is a burst of calls a sync makes at full speed against a fake that enforces a
// (shortened) rate limit, and what the fake counted of it.
type rateLimitedRun struct {
	system string
	// serve builds the fake with limit and returns its handler, a connector's credentials and
	// its stats.
	serve func(limit contract.RateLimit) (fake http.Handler, creds Credentials, stats func() fakesystem.Stats)
	// call is the i-th call of the burst.
	call func(c Connector, i int) error
}

var rateLimitedRuns = map[string]rateLimitedRun{
	"quickbooks reads (500/min and 10 in flight per realm)": {
		system: SystemQuickBooks,
		serve: func(limit contract.RateLimit) (http.Handler, Credentials, func() fakesystem.Stats) {
			q := newFakeQuickBooks(threeCustomers...)
			q.RateLimit, q.Latency = limit, 20*time.Millisecond
			return q, quickBooksCreds, q.Stats
		},
		call: func(c Connector, _ int) error {
			_, err := c.(Source).Changes(context.Background(), "")
			return err
		},
	},
	"gohighlevel upserts (100 per 10 s per location)": {
		system: SystemGoHighLevel,
		serve: func(limit contract.RateLimit) (http.Handler, Credentials, func() fakesystem.Stats) {
			g := fakesystem.NewGoHighLevel("loc-1", testTokens())
			g.RateLimit = limit
			return g, oauthCreds(map[string]string{"location_id": "loc-1"}), g.Stats
		},
		call: func(c Connector, i int) error {
			_, err := c.(Destination).Upsert(context.Background(), "", Record{Patient: record.Patient{Email: fmt.Sprintf("patient%d@example.com", i)}})
			return err
		},
	},
}

// burst makes n calls from 8 goroutines, as a sync writing at full speed does.
func burst(t *testing.T, c Connector, n int, call func(Connector, int) error) []error {
	t.Helper()
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		next = make(chan int)
	)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				if err := call(c, i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return errs
}

// TestClientStaysUnderTheVendorsRateLimit: against a fake that answers 429 past its limit, a burst
// of calls paced by the connector meets none, and all of them succeed. Without the pacing (the
// client's limit far above the fake's) the same burst is throttled, so the test can fail.
func TestClientStaysUnderTheVendorsRateLimit(t *testing.T) {
	vendorLimit := contract.RateLimit{Requests: 20, Per: 500 * time.Millisecond, Concurrent: 3}
	const calls = 40
	for name, run := range rateLimitedRuns {
		t.Run(name, func(t *testing.T) {
			fake, creds, stats := run.serve(vendorLimit)
			srv := newFake(t, fake)
			opts := testOptions(srv.Server)
			opts.RateLimit = vendorLimit
			c := mustNew(t, run.system, srv.URL, creds, opts)
			if errs := burst(t, c, calls, run.call); len(errs) > 0 {
				t.Fatalf("%d of %d calls failed, first: %v", len(errs), calls, errs[0])
			}
			s := stats()
			if s.Throttled != 0 || s.Requests != calls {
				t.Fatalf("the fake served %d requests and %d 429s, want %d and none", s.Requests, s.Throttled, calls)
			}
		})
		t.Run(name+", unpaced", func(t *testing.T) {
			fake, creds, stats := run.serve(vendorLimit)
			srv := newFake(t, fake)
			opts := testOptions(srv.Server)
			opts.RateLimit = contract.RateLimit{Requests: 1 << 20, Per: time.Millisecond}
			burst(t, mustNew(t, run.system, srv.URL, creds, opts), calls, run.call)
			if s := stats(); s.Throttled == 0 {
				t.Fatalf("an unpaced burst met no 429 (%+v): the fake does not enforce its limit", s)
			}
		})
	}
}

func TestPublishedRateLimitsAreTheDefault(t *testing.T) {
	for system, want := range map[string]contract.RateLimit{
		SystemQuickBooks:  {Requests: 500, Per: time.Minute, Concurrent: 10},
		SystemGoHighLevel: {Requests: 100, Per: 10 * time.Second},
		SystemZoho:        {Concurrent: 10},
		SystemCerbo:       {},
	} {
		if got := (Options{}).rateLimitFor(system); got != want {
			t.Errorf("%s: %+v, want %+v", system, got, want)
		}
	}
	if got := (Options{}).batchRateLimitFor(SystemQuickBooks); got != (contract.RateLimit{Requests: 40, Per: time.Minute}) {
		t.Errorf("quickbooks batch: %+v, want 40 a minute", got)
	}
	custom := contract.RateLimit{Requests: 1, Per: time.Second}
	if got := (Options{RateLimit: custom}).rateLimitFor(SystemQuickBooks); got != custom {
		t.Errorf("Options.RateLimit is not used: %+v", got)
	}
}

// TestClientPacesBatchCallsUnderTheBatchLimit: calls marked batch keep to the vendor's batch limit
// (QuickBooks 40 batch requests a minute) on top of the request limit; unmarked calls do not.
func TestClientPacesBatchCallsUnderTheBatchLimit(t *testing.T) {
	batchLimit := contract.RateLimit{Requests: 6, Per: 400 * time.Millisecond}
	for name, marked := range map[string]bool{"marked batch": true, "unmarked": false} {
		t.Run(name, func(t *testing.T) {
			q := newFakeQuickBooks()
			q.BatchRateLimit = batchLimit
			srv := newFake(t, q)
			opts := testOptions(srv.Server)
			// Only the batch limit paces: the request limit is far above the burst.
			opts.BatchRateLimit, opts.RateLimit = batchLimit, contract.RateLimit{Requests: 1 << 20, Per: time.Millisecond}
			qb := mustNew(t, SystemQuickBooks, srv.URL, quickBooksCreds, opts).(*quickBooks)
			burst(t, qb, 15, func(_ Connector, i int) error {
				body := map[string]any{"BatchItemRequest": []any{map[string]any{"bId": "1", "operation": "create",
					"Customer": map[string]any{"GivenName": fmt.Sprint("Testy", i)}}}}
				_, err := qb.api.do(context.Background(), call{op: "batch", method: http.MethodPost, path: qb.companyPath("/batch"), body: body, batch: marked})
				return err
			})
			s := q.Stats()
			if marked && (s.Throttled != 0 || s.Created != 15) {
				t.Fatalf("paced batches: %+v, want 15 created and no 429", s)
			}
			if !marked && s.Throttled == 0 {
				t.Fatalf("unpaced batches met no 429 (%+v): the test cannot tell pacing from none", s)
			}
		})
	}
}
