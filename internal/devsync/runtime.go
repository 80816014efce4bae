package devsync

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// Options say which Integration to run and where.
type Options struct {
	Kubectl                Kubectl
	Namespace, Integration string
	// Binary is the tenantwire binary to run as `tenantwire sync`.
	Binary string
	// Dir receives the runtime's logs and a 0700 work directory with the pod's files, credentials
	// included, which Stop removes.
	Dir string
	// Notes receives what was rewritten for this machine, and why.
	Notes io.Writer
}

// Runtime is the Integration's sync runtime running here, with its fakes.
type Runtime struct {
	// Cerbo and QuickBooks are the fakes, to look at what the runtime did.
	Cerbo      *fakesystem.Cerbo
	QuickBooks *fakesystem.QuickBooks
	// LogFile is the runtime's log as it wrote it (JSON lines); PodLogFile the same in the
	// container runtime's format, which kwok serves as the pod's log.
	LogFile, PodLogFile string
	// MetricsAddr serves the runtime's /metrics on loopback.
	MetricsAddr string
	// Fields are the patient fields the Integration authorizes, as its rendered sync.yaml lists
	// them: all the runtime lets reach the destination.
	Fields []string

	opts   Options
	pod    *pod
	work   string
	fakes  *fakes
	config string
	proc   *process
	log    *cycleLog
}

// Start lays out the pod's files, starts the fakes and runs the runtime.
func Start(ctx context.Context, o Options) (*Runtime, error) {
	work, err := os.MkdirTemp(o.Dir, "sync-"+o.Integration+"-")
	if err != nil {
		return nil, err
	}
	r := &Runtime{opts: o, work: work,
		LogFile:    filepath.Join(o.Dir, "sync-"+o.Integration+".log"),
		PodLogFile: filepath.Join(o.Dir, "sync-"+o.Integration+".pod.log"),
	}
	if err := r.prepare(ctx); err != nil {
		r.Stop()
		return nil, err
	}
	if r.log, err = openCycleLog(r.LogFile, r.PodLogFile); err != nil {
		r.Stop()
		return nil, err
	}
	if err := r.run(); err != nil {
		r.Stop()
		return nil, err
	}
	return r, nil
}

func (r *Runtime) prepare(ctx context.Context) error {
	note := func(format string, args ...any) { _, _ = fmt.Fprintf(r.opts.Notes, format+"\n", args...) }
	var err error
	if r.pod, err = layOut(ctx, r.opts.Kubectl, r.opts.Namespace, r.opts.Integration, filepath.Join(r.work, "pod")); err != nil {
		return err
	}
	note("kwok runs no containers, so the sync runtime of %s/%s runs on this machine, with its pod's files laid out in %s (removed when it stops).",
		r.opts.Namespace, r.opts.Integration, r.work)
	data, err := os.ReadFile(r.pod.local(r.pod.configFile))
	if err != nil {
		return err
	}
	cfg, err := syncconfig.Unmarshal(data)
	if err != nil {
		return err
	}
	r.Fields = cfg.Fields
	if cfg.Store.DSN != "" {
		return fmt.Errorf("the mapping store is a database the runtime cannot reach from here; only SQLite runs locally")
	}
	if r.fakes, err = startFakes(cfg, r.pod.local, r.work); err != nil {
		return err
	}
	r.Cerbo, r.QuickBooks = r.fakes.Cerbo, r.fakes.QuickBooks
	note("No real vendor may be called from here, so the vendors are fakes on loopback with made-up patients:")
	note("  source.url       %s -> %s", cfg.Source.URL, r.fakes.cerboURL())
	note("  destination.url  %s -> %s", cfg.Destination.URL, r.fakes.quickBooksURL())
	cfg.Source.URL, cfg.Destination.URL = r.fakes.cerboURL(), r.fakes.quickBooksURL()
	// The runtime dials only the hosts sync.yaml allows, and the fakes are none of the vendors'.
	for _, ep := range []struct {
		name string
		ep   *syncconfig.Endpoint
	}{{"source", &cfg.Source}, {"destination", &cfg.Destination}} {
		u, err := url.Parse(ep.ep.URL)
		if err != nil {
			return err
		}
		note("  %s.allowedHosts %v -> [%s]", ep.name, ep.ep.AllowedHosts, u.Host)
		ep.ep.AllowedHosts = []string{u.Host}
	}
	// The destination's OAuth2 token endpoint is the vendor's unless a token_url credential names
	// another one.
	tokenURL := r.fakes.quickBooksURL() + fakesystem.TokenPath
	if err := os.WriteFile(filepath.Join(r.pod.local(cfg.Destination.CredentialsDir), "token_url"), []byte(tokenURL), 0o600); err != nil {
		return err
	}
	note("  destination credential token_url -> %s", tokenURL)
	note("  the fakes' certificate is trusted through SSL_CERT_FILE=%s", r.fakes.caFile)

	if cfg.TokenWriter != nil {
		// A pod patches rotated refresh tokens into the cluster with a token only a kubelet may
		// request; from here the fakes' rotated tokens stay in the state directory's store.
		note("  tokenWriter %s/%s -> none (no projected token here; rotated tokens stay in the local store)", cfg.TokenWriter.Namespace, cfg.TokenWriter.Secret)
		cfg.TokenWriter = nil
	}
	for _, p := range []*string{&cfg.Source.CredentialsDir, &cfg.Destination.CredentialsDir, &cfg.KeyringFile, &cfg.StateDir} {
		if *p != "" {
			*p = r.pod.local(*p)
		}
	}
	addrs, err := testenv.FreeLoopbackAddrs(2)
	if err != nil {
		return err
	}
	health := addrs[0]
	r.MetricsAddr = addrs[1]
	note("  healthAddr %s -> %s, metricsAddr %s -> %s (the pod's ports are taken or unroutable here)", cfg.HealthAddr, health, cfg.MetricsAddr, r.MetricsAddr)
	cfg.HealthAddr, cfg.MetricsAddr = health, r.MetricsAddr
	body, err := syncconfig.Marshal(cfg)
	if err != nil {
		return err
	}
	r.config = filepath.Join(r.work, syncconfig.FileName)
	return os.WriteFile(r.config, []byte(body), 0o600)
}

// run starts the runtime with the pod's arguments, the configuration rewritten for this machine.
func (r *Runtime) run() error {
	args := make([]string, len(r.pod.args))
	for i, a := range r.pod.args {
		args[i] = strings.Replace(a, r.pod.configFile, r.config, 1)
	}
	var err error
	r.proc, err = startProcess(r.opts.Binary, args, []string{"SSL_CERT_FILE=" + r.fakes.caFile}, r.log)
	return err
}

// Restart stops the runtime and starts it again on the same state, as a rescheduled pod would.
func (r *Runtime) Restart() error {
	r.proc.stop()
	return r.run()
}

// Cycle waits for the n-th cycle (counted from 0 across restarts) to end and returns it.
func (r *Runtime) Cycle(ctx context.Context, n int) (Cycle, error) {
	return r.log.wait(ctx, n, r.proc.done)
}

// Stop ends the runtime and the fakes and removes the work directory with the credentials.
func (r *Runtime) Stop() {
	if r.proc != nil {
		r.proc.stop()
	}
	if r.fakes != nil {
		r.fakes.close()
	}
	if r.log != nil {
		r.log.close()
	}
	_ = os.RemoveAll(r.work)
}
