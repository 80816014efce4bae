// Package syncrun is the sync runtime, `tenantwire sync`: what each Integration's pods run. It
// reads the configuration, credentials and keyring the operator mounts (nothing from the
// Kubernetes API), moves records from the source system to the destination, and keeps the only
// data at rest: the encrypted patient-ID mapping that makes every write idempotent.
//
// Readiness is a contract with the operator: the pod reports ready only once every mapping row
// is under the keyring's active version. A consumer Deployment that is Available at the current
// keyring version therefore holds nothing the operator could destroy by trimming older versions.
package syncrun

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/cyclereport"
	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
)

// ConnectorFactory builds the connector of one system from its rendered endpoint and credentials;
// allowedHosts are the only hosts it may dial, and stores keep what the connector must not lose
// across restarts (rotated refresh tokens, received webhook deliveries). log carries the tenant
// and the integration; the connector adds its system.
type ConnectorFactory func(system, url string, allowedHosts []string, creds connector.Credentials, minTLS string, stores ConnectorStores, log logr.Logger) (connector.Connector, error)

// Options of one runtime.
type Options struct {
	ConfigPath   string
	NewConnector ConnectorFactory
	Log          logr.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Ready, when set, is called each time readiness changes; tests use it to wait.
	Ready func(reason string)
	// APIServer is the base URL the token writer patches the rotated-token Secret at; "" means
	// the in-cluster address.
	APIServer string
}

// Run serves health and metrics, prepares the mapping store and runs sync cycles on the schedule
// until ctx is cancelled (SIGTERM). It returns an error for a configuration the pod cannot run
// with, so the pod's status shows it instead of a silent idle loop.
func Run(ctx context.Context, o Options) error {
	log := o.Log
	now := o.Now
	if now == nil {
		now = time.Now
	}
	cfg, err := LoadConfig(o.ConfigPath)
	if err != nil {
		return err
	}
	fields, err := AuthorizedFields(cfg)
	if err != nil {
		return err
	}
	next, err := ParseSchedule(cfg.Schedule, now())
	if err != nil {
		return err
	}
	log = log.WithValues("tenant", cfg.Tenant, "integration", cfg.Integration)
	m := NewMetrics()
	health := NewHealth(m)
	summary := newCycleSummary(m)
	health.cycle = summary
	report := func(reason string) {
		health.SetNotReady(reason)
		if o.Ready != nil {
			o.Ready(reason)
		}
	}
	srv, err := serve(cfg.HealthAddr, cfg.MetricsAddr, health, m, log)
	if err != nil {
		return fmt.Errorf("serving health and metrics: %w", err)
	}
	defer srv.shutdown()

	kr, err := LoadKeyring(cfg.KeyringFile)
	if err != nil {
		return err
	}
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	codec := mappingseal.Codec{Tenant: cfg.Tenant, Keyring: kr}
	summary.setKeyringVersion(kr.Active)

	writer, err := newTokenWriter(cfg, o.APIServer)
	if err != nil {
		return err
	}
	stores := ConnectorStores{
		RefreshTokens: sealedRefreshTokens{store: st, codec: codec, integration: cfg.Integration},
		Deliveries:    sealedDeliveries{store: st, codec: codec, queue: cfg.Integration, log: log.WithValues("system", cfg.Source.System)},
	}
	if writer != nil {
		stores.RefreshTokens = writtenBackTokens{RefreshTokenStore: stores.RefreshTokens, writer: writer}
	}
	endpoint := func(ep syncconfig.Endpoint) (connector.Connector, connector.Credentials, error) {
		creds, err := connector.ReadCredentials(ep.CredentialsDir)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", ep.System, err)
		}
		c, err := o.NewConnector(ep.System, ep.URL, ep.AllowedHosts, creds, cfg.TLS.MinVersion, stores, log)
		return c, creds, err
	}
	src, srcCreds, err := endpoint(cfg.Source)
	if err != nil {
		return err
	}
	dst, _, err := endpoint(cfg.Destination)
	if err != nil {
		return err
	}
	if recv, ok := src.(connector.WebhookReceiver); ok && cfg.WebhookAddr != "" {
		if err := srv.serveWebhook(cfg.WebhookAddr, recv.Handler(), srcCreds, log); err != nil {
			return err
		}
	}
	report("moving mapping rows onto the active key version")
	kv, err := RewrapRetained(ctx, st, codec, m)
	if err != nil {
		return fmt.Errorf("rewrapping the mapping: %w", err)
	}
	log.Info("mapping store ready", "activeKeyVersion", kr.Active, "rows", kv.Rows, "unknownVersionRows", kv.Unknown,
		"sealedState", kv.State, "unknownVersionState", kv.UnknownState, "rejected", kv.Rejected, "unknownVersionRejected", kv.UnknownRejected)
	log.Info("moving only the authorized fields", "fields", fields.String())

	syncer := &Syncer{
		Integration:  cfg.Integration,
		SourceSystem: cfg.Source.System, DestSystem: cfg.Destination.System,
		Source: src, Destination: dst, Fields: fields, Store: st, Codec: codec, Metrics: m, Log: log, Now: now,
		Resync: cfg.Resync, Replay: cfg.Replay,
	}
	for start := now(); ; {
		if kv.Unknown > 0 {
			// Those rows' patients cannot be found any more: syncing would create them again at the
			// destination. Stay unready and say so until someone restores the keyring.
			report(fmt.Sprintf("%d mapping rows are under key versions the keyring no longer holds", kv.Unknown))
			log.Error(errors.New("unreadable mapping rows"), "not syncing: restore the keyring versions these rows use", "rows", kv.Unknown)
		} else {
			report("")
			runCycle(ctx, syncer, summary, writer, log, now)
		}
		if ctx.Err() != nil {
			log.Info("stopping: the cursor stays after the last complete page")
			return nil
		}
		if kv, err = MeasureKeyVersions(ctx, st, codec, m); err != nil {
			log.Error(err, "measuring the mapping")
		}
		wait := next(start).Sub(now())
		select {
		case <-ctx.Done():
			log.Info("stopping between cycles")
			return nil
		case <-time.After(max(wait, 0)):
		}
		start = now()
	}
}

func runCycle(ctx context.Context, s *Syncer, summary *cycleSummary, writer *tokenWriter, log logr.Logger, now func() time.Time) {
	start := now()
	summary.begin()
	err := s.beginResync(ctx)
	var res CycleResult
	if err == nil {
		var replayed *cyclereport.Replay
		if replayed, err = s.replay(ctx); replayed != nil {
			summary.setReplay(*replayed)
		}
	}
	if err == nil {
		res, err = s.Cycle(ctx)
	}
	summary.end(start, now(), res, err)
	if err == nil {
		done, rerr := s.finishResync(ctx)
		if rerr != nil {
			log.Error(rerr, "recording the resync as done; the next completed cycle records it")
		}
		summary.setResyncObserved(done)
	}
	// Counted also after a failed or interrupted cycle: the records it kept are pending as well.
	pending, perr := s.Store.CountRejected(context.WithoutCancel(ctx), s.Integration)
	if perr != nil {
		log.Error(perr, "counting the rejected records kept for replay")
	} else {
		summary.setPendingReplay(pending)
	}
	// The cycle's one summary line: counts only, nothing of a record.
	kv := []any{"read", res.Read, "created", res.Created, "updated", res.Updated, "rejected", res.Rejected, "pages", res.Pages,
		"pendingReplay", pending, "duration", now().Sub(start).Round(time.Millisecond).String()}
	switch {
	case errors.Is(err, context.Canceled):
		log.Info("sync cycle interrupted by shutdown", kv...)
	case err != nil:
		log.Error(err, "sync cycle failed; the next cycle resumes from the last committed page", kv...)
		if werr := writer.recordRefusal(err, now()); werr != nil {
			log.Error(werr, "recording the vendor's refusal of the refresh token")
		}
	default:
		log.Info("sync cycle finished", kv...)
	}
}
