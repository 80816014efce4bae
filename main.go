// Command tenantwire is the tenantwire operator. One binary serves every role of the image: the
// controller manager (default), the per-tenant sync runtime, the offboarding export, the purge of a PostgreSQL mapping store, and the API
// check the Helm chart's test runs.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/tenantwire/tenantwire/internal/apicheck"
	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/manager"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
	"github.com/tenantwire/tenantwire/internal/syncrun"
)

func main() {
	args := os.Args[1:]
	switch {
	case len(args) == 0 || strings.HasPrefix(args[0], "-"):
		os.Exit(runManager(args))
	case args[0] == "manager":
		os.Exit(runManager(args[1:]))
	case args[0] == "sync":
		os.Exit(runSync(args[1:]))
	case args[0] == "export":
		os.Exit(runExport(args[1:]))
	case args[0] == "purge-store":
		os.Exit(runPurgeStore(args[1:]))
	case args[0] == "check-api":
		os.Exit(runCheckAPI(args[1:]))
	default:
		// An unknown subcommand must fail loudly: starting the manager in its place (in a sync pod,
		// say) would be a silent and dangerous surprise.
		fmt.Fprintf(os.Stderr, "tenantwire: unknown command %q; available: manager, sync, export, purge-store, check-api\n", args[0])
		os.Exit(2)
	}
}

func runManager(args []string) int {
	fs := flag.NewFlagSet("tenantwire manager", flag.ExitOnError)
	var opts manager.Options
	opts.BindFlags(fs)
	_ = fs.Parse(args)
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts.Zap)))
	log := ctrl.Log.WithName("setup")
	limit, err := manager.SetMemoryLimit()
	if err != nil {
		log.Error(err, "advising random reads of the binary: the memory limit keeps room for all of it that start-up read")
	}
	if limit > 0 {
		log.Info("Go memory limit set from the container's", "bytes", limit)
	}

	mgr, err := manager.New(opts)
	if err != nil {
		log.Error(err, "unable to set up the manager")
		return 1
	}
	log.Info("starting manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func runSync(args []string) int {
	fs := flag.NewFlagSet("tenantwire sync", flag.ExitOnError)
	config := fs.String("config", "/etc/tenantwire/sync.yaml", "The Integration's rendered sync configuration.")
	_ = fs.Parse(args)
	log := syncrun.NewLogger(os.Stderr)
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	err := syncrun.Run(ctx, syncrun.Options{ConfigPath: *config, Log: log, NewConnector: newConnector})
	if err != nil {
		log.Error(err, "sync runtime stopped")
		return 1
	}
	return 0
}

func newConnector(system, url string, allowedHosts []string, creds connector.Credentials, minTLS string, stores syncrun.ConnectorStores, log logr.Logger) (connector.Connector, error) {
	// A nil list would allow any host; LoadConfig has refused an endpoint without one.
	if allowedHosts == nil {
		allowedHosts = []string{}
	}
	return connector.New(system, url, creds, connector.Options{MinTLSVersion: minTLS, AllowedHosts: allowedHosts,
		RefreshTokens: stores.RefreshTokens, Webhook: connector.WebhookOptions{Deliveries: stores.Deliveries}, Logger: log})
}

func runExport(args []string) int {
	fs := flag.NewFlagSet("tenantwire export", flag.ExitOnError)
	config := fs.String("config", "/etc/tenantwire/sync.yaml", "The Integration's rendered sync configuration.")
	dir := fs.String("output-dir", "", "Directory that receives <integration>.jsonl.age (or .jsonl with --plaintext) and <integration>.manifest.json.")
	var recipients stringList
	fs.Var(&recipients, "recipient", "An age X25519 public key (age1...) the export is sealed to; repeat for several.")
	plaintext := fs.Bool("plaintext", false, "Write the export unencrypted, instead of --recipient.")
	_ = fs.Parse(args)
	log := syncrun.NewLogger(os.Stderr)
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "tenantwire export: --output-dir is required")
		return 2
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	opts := syncrun.ExportOptions{Dir: *dir, Recipients: recipients, Plaintext: *plaintext}
	if err := syncrun.ExportFile(ctx, *config, opts, log); err != nil {
		log.Error(err, "export failed")
		return 1
	}
	return 0
}

// runPurgeStore deletes the Integration's rows from its PostgreSQL mapping store and prints the
// counts, as JSON, on stdout and to --result-file (the container's termination message, which the
// operator reads into the Tenant's purge record). Counts only: never a row, never the DSN.
func runPurgeStore(args []string) int {
	fs := flag.NewFlagSet("tenantwire purge-store", flag.ExitOnError)
	config := fs.String("config", "/etc/tenantwire/sync.yaml", "The Integration's rendered sync configuration.")
	resultFile := fs.String("result-file", "", "A file that receives the counts as well, such as /dev/termination-log.")
	_ = fs.Parse(args)
	log := syncrun.NewLogger(os.Stderr)
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	counts, err := syncrun.PurgeStore(ctx, *config)
	if err != nil {
		log.Error(err, "purge of the mapping store failed")
		return 1
	}
	out, err := json.Marshal(counts)
	if err != nil {
		log.Error(err, "encoding the purge counts")
		return 1
	}
	fmt.Println(string(out))
	if *resultFile != "" {
		if err := os.WriteFile(*resultFile, out, 0o600); err != nil {
			log.Error(err, "writing the purge counts")
			return 1
		}
	}
	return 0
}

// runCheckAPI is `helm test`'s check: it exits 0 once the API server serves every tenantwire kind.
func runCheckAPI(args []string) int {
	fs := flag.NewFlagSet("tenantwire check-api", flag.ExitOnError)
	timeout := fs.Duration("timeout", 2*time.Minute, "How long to wait for the API server to serve every tenantwire.io kind.")
	_ = fs.Parse(args)
	cfg, err := ctrl.GetConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tenantwire check-api:", err)
		return 1
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	if err := apicheck.Run(ctx, cfg, twscheme.New(), *timeout, 2*time.Second, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tenantwire check-api:", err)
		return 1
	}
	return 0
}

// stringList collects a repeated flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
