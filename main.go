// Command tenantwire is the tenantwire operator. One binary serves both roles of the image: the
// controller manager (default) and, in later releases, the per-tenant sync runtime.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/tenantwire/tenantwire/internal/manager"
)

func main() {
	args := os.Args[1:]
	switch {
	case len(args) == 0 || strings.HasPrefix(args[0], "-"):
		os.Exit(runManager(args))
	case args[0] == "manager":
		os.Exit(runManager(args[1:]))
	default:
		// An unknown subcommand must fail loudly: starting the manager in its place (in a sync pod,
		// say) would be a silent and dangerous surprise.
		fmt.Fprintf(os.Stderr, "tenantwire: unknown command %q; available: manager\n", args[0])
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
