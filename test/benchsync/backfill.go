package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/go-logr/logr"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
	"github.com/tenantwire/tenantwire/internal/connector/gohighlevel"
	"github.com/tenantwire/tenantwire/internal/connector/quickbooks"
	zohocrm "github.com/tenantwire/tenantwire/internal/connector/zoho"
	"github.com/tenantwire/tenantwire/internal/mappingstore"
	"github.com/tenantwire/tenantwire/internal/record"
	"github.com/tenantwire/tenantwire/internal/store"
	"github.com/tenantwire/tenantwire/internal/syncrun"
)

// The backfill scenario: a practice's first sync. Cerbo holds Patients generated patients
// (fakesystem.GeneratedPatients); the real runtime (syncrun.Syncer, the real connectors, a SQLite
// mapping store) moves them into one destination fake, over HTTPS on loopback. The fakes enforce
// their vendor's contract and rate limit and count what they served; the connectors pace
// themselves by the same limits. Both run the published limits with their window divided by
// Scale, so a run takes minutes instead of the half hour the published limits need.
type backfillConfig struct {
	Patients     int
	Scale        float64
	Destinations []string
}

// backfillFigures are one destination's results.
type backfillFigures struct {
	Destination string
	Patients    int
	Elapsed     time.Duration
	// Sent is every API call that reached the destination (Throttled included); the token
	// endpoint is not counted.
	Sent, Throttled int
	// Duplicates are the fake's (creates of a record it already held) plus the destination
	// records beyond one per patient.
	Duplicates int
	// Lost are patients without both a mapping row and the destination record it names.
	Lost int
	// MinRequests is the fewest writes the vendor must receive for Patients records; Floor the
	// time its (scaled) published rate needs for them, 0 when it publishes no rate.
	MinRequests int
	Floor       time.Duration
	Limit       string
}

func (f backfillFigures) rate() float64 { return float64(f.Patients) / f.Elapsed.Seconds() }

// ratio is Elapsed over Floor, 0 when there is no floor.
func (f backfillFigures) ratio() float64 {
	if f.Floor <= 0 {
		return 0
	}
	return f.Elapsed.Seconds() / f.Floor.Seconds()
}

func (f backfillFigures) line() string {
	ratio := "n/a (no published rate)"
	if f.Floor > 0 {
		ratio = fmt.Sprintf("%.2f× the floor of %s", f.ratio(), roundDuration(f.Floor))
	}
	return fmt.Sprintf("backfill %-11s %d patients in %s: %.1f records/s, %d requests (minimum %d), %d 429s, %d duplicates, %d lost; %s",
		f.Destination, f.Patients, roundDuration(f.Elapsed), f.rate(), f.Sent, f.MinRequests, f.Throttled, f.Duplicates, f.Lost, ratio)
}

// roundDuration keeps three significant figures or so.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}

// scaled divides a limit's window by scale: the same number of requests in a shorter window.
// Concurrency stays as published.
func scaled(l contract.RateLimit, scale float64) contract.RateLimit {
	l.Per = time.Duration(float64(l.Per) / scale)
	return l
}

// floorOf is the least time n requests take under each of limits' rates.
func floorOf(n int, limits ...contract.RateLimit) time.Duration {
	var floor time.Duration
	for _, l := range limits {
		if l.Requests > 0 && l.Per > 0 {
			floor = max(floor, time.Duration(float64(n)*float64(l.Per)/float64(l.Requests)))
		}
	}
	return floor
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// backfillDestination is one destination fake and how to reach and judge it.
type backfillDestination struct {
	handler http.Handler
	stats   func() fakesystem.Stats
	// held are the IDs of the records the destination holds.
	held  func() []string
	creds func(tokenURL string) connector.Credentials
	// limit and batchLimit are the (scaled) limits the fake enforces and the connector keeps to.
	limit, batchLimit contract.RateLimit
	minRequests       int
	floor             time.Duration
	describe          string
}

const (
	backfillClient, backfillSecret, backfillRefresh = "bench-client", "bench-secret", "bench-refresh"
	backfillRealm, backfillLocation                 = "9130350000000001", "bench-location"
)

func newBackfillDestination(system string, n int, scale float64) (*backfillDestination, error) {
	tokens := &fakesystem.Tokens{ClientID: backfillClient, ClientSecret: backfillSecret, RefreshToken: backfillRefresh}
	oauth := func(tokenURL string, extra ...string) connector.Credentials {
		c := connector.Credentials{"client_id": []byte(backfillClient), "client_secret": []byte(backfillSecret),
			"refresh_token": []byte(backfillRefresh), "token_url": []byte(tokenURL)}
		for i := 0; i+1 < len(extra); i += 2 {
			c[extra[i]] = []byte(extra[i+1])
		}
		return c
	}
	switch system {
	case connector.SystemQuickBooks:
		q := fakesystem.NewQuickBooks(backfillRealm, tokens)
		q.RateLimit, q.BatchRateLimit = scaled(quickbooks.RateLimit, scale), scaled(quickbooks.BatchRateLimit, scale)
		batches := ceilDiv(n, quickbooks.MaxBatchItems)
		return &backfillDestination{handler: q, stats: q.Stats,
			held:  func() []string { return idsOf(q.Customers(), "Id") },
			creds: func(u string) connector.Credentials { return oauth(u, "realm_id", backfillRealm) },
			limit: q.RateLimit, batchLimit: q.BatchRateLimit,
			minRequests: batches, floor: floorOf(batches, q.RateLimit, q.BatchRateLimit),
			describe: fmt.Sprintf("%d-record batch requests at %s (and %s overall)", quickbooks.MaxBatchItems, describeLimit(q.BatchRateLimit), describeLimit(q.RateLimit))}, nil
	case connector.SystemZoho:
		z := fakesystem.NewZoho(tokens)
		z.RateLimit = scaled(zohocrm.RateLimit, scale)
		return &backfillDestination{handler: z, stats: z.Stats,
			held:  func() []string { return idsOf(z.Contacts(), "id") },
			creds: func(u string) connector.Credentials { return oauth(u) },
			limit: z.RateLimit, minRequests: ceilDiv(n, zohocrm.MaxBatch),
			describe: fmt.Sprintf("%d-record upserts, %s (no published rate)", zohocrm.MaxBatch, describeLimit(z.RateLimit))}, nil
	case connector.SystemGoHighLevel:
		g := fakesystem.NewGoHighLevel(backfillLocation, tokens)
		g.RateLimit = scaled(gohighlevel.RateLimit, scale)
		return &backfillDestination{handler: g, stats: g.Stats,
			held:  func() []string { return idsOf(g.Contacts(), "id") },
			creds: func(u string) connector.Credentials { return oauth(u, "location_id", backfillLocation) },
			limit: g.RateLimit, minRequests: n, floor: floorOf(n, g.RateLimit),
			describe: fmt.Sprintf("one upsert per record at %s", describeLimit(g.RateLimit))}, nil
	}
	return nil, fmt.Errorf("unknown destination %q (want %s, %s or %s)", system, connector.SystemQuickBooks, connector.SystemZoho, connector.SystemGoHighLevel)
}

func describeLimit(l contract.RateLimit) string {
	s := ""
	if l.Requests > 0 {
		s = fmt.Sprintf("%d requests per %s", l.Requests, l.Per)
	}
	if l.Concurrent > 0 {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%d in flight", l.Concurrent)
	}
	return s
}

func idsOf(records []map[string]any, key string) []string {
	out := make([]string, 0, len(records))
	for _, r := range records {
		if id, ok := r[key].(string); ok {
			out = append(out, id)
		}
	}
	return out
}

// serveTLS serves h over HTTPS on loopback and returns its URL, the pool that trusts it and its host.
func serveTLS(h http.Handler) (*httptest.Server, *x509.CertPool, string) {
	srv := httptest.NewUnstartedServer(h)
	// The fakes' answers are logged by nothing; the server's own errors (a client gone at
	// shutdown) would only clutter the figures.
	srv.Config.ErrorLog = nil
	srv.StartTLS()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	u, _ := url.Parse(srv.URL)
	return srv, roots, u.Host
}

// runBackfill backfills each destination in turn. Progress goes to log, one line per destination.
func runBackfill(ctx context.Context, cfg backfillConfig, log io.Writer) ([]backfillFigures, error) {
	var out []backfillFigures
	for _, system := range cfg.Destinations {
		f, err := backfill(ctx, system, cfg)
		if err != nil {
			return out, fmt.Errorf("backfill into %s: %w", system, err)
		}
		_, _ = fmt.Fprintln(log, f.line())
		out = append(out, f)
	}
	return out, nil
}

func backfill(ctx context.Context, system string, cfg backfillConfig) (f backfillFigures, err error) {
	dest, err := newBackfillDestination(system, cfg.Patients, cfg.Scale)
	if err != nil {
		return f, err
	}
	patients := fakesystem.GeneratedPatients(cfg.Patients, 1, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cerboSrv, cerboRoots, cerboHost := serveTLS(fakesystem.NewCerbo("bench-user", "bench-key", patients...))
	defer cerboSrv.Close()
	destSrv, destRoots, destHost := serveTLS(dest.handler)
	defer destSrv.Close()

	src, err := connector.New(connector.SystemCerbo, cerboSrv.URL+fakesystem.CerboBasePath,
		connector.Credentials{"username": []byte("bench-user"), "api_key": []byte("bench-key")},
		connector.Options{RootCAs: cerboRoots, AllowedHosts: []string{cerboHost}})
	if err != nil {
		return f, err
	}
	dst, err := connector.New(system, destSrv.URL, dest.creds(destSrv.URL+fakesystem.TokenPath),
		connector.Options{RootCAs: destRoots, AllowedHosts: []string{destHost}, RateLimit: dest.limit, BatchRateLimit: dest.batchLimit,
			// The pace's allowance for jitter is part of its window: scaled with it.
			JitterAllowance: time.Duration(float64(connector.DefaultJitterAllowance) / cfg.Scale)})
	if err != nil {
		return f, err
	}
	dir, err := os.MkdirTemp("", "tenantwire-backfill-")
	if err != nil {
		return f, err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "mapping.db"))
	if err != nil {
		return f, err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	codec, err := newCodec()
	if err != nil {
		return f, err
	}
	s := &syncrun.Syncer{
		Tenant: benchTenant, Integration: "backfill-" + system,
		SourceSystem: connector.SystemCerbo, DestSystem: system,
		Source: src, Destination: dst, Fields: record.DefaultMinimum(),
		Store: st, Codec: codec, Metrics: syncrun.NewMetrics(), Log: logr.Discard(), Now: time.Now,
	}
	start := time.Now()
	res, err := s.Cycle(ctx)
	elapsed := time.Since(start)
	if err != nil {
		return f, err
	}
	if res.Read != cfg.Patients {
		return f, fmt.Errorf("the cycle read %d patients, want %d", res.Read, cfg.Patients)
	}

	held := map[string]bool{}
	for _, id := range dest.held() {
		held[id] = true
	}
	lost := 0
	for i := range cfg.Patients {
		rec, err := mappingstore.Lookup(ctx, st, codec, connector.SystemCerbo, strconv.Itoa(1+i))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return f, err
		}
		if id := rec.IDs[system]; id == "" || !held[id] {
			lost++
		}
	}
	stats := dest.stats()
	return backfillFigures{
		Destination: system, Patients: cfg.Patients, Elapsed: elapsed,
		Sent: stats.Requests + stats.Throttled, Throttled: stats.Throttled,
		Duplicates: stats.Duplicates + max(0, len(held)-cfg.Patients), Lost: lost,
		MinRequests: dest.minRequests, Floor: dest.floor, Limit: dest.describe,
	}, nil
}
