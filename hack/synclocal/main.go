// Command synclocal runs an Integration's sync runtime on this machine for the simulated cluster,
// against fake vendors on loopback (see internal/devsync), until SIGTERM or Ctrl-C. hack/run.sh
// starts it for the sample Integration once the samples are Ready; it prints "first sync cycle"
// when a cycle has created records at the fake destination, and exits non-zero if none does.
//
//	synclocal -kubectl "$(hack/tools.sh path kubectl)" -kubeconfig .dev-cluster/kubeconfig \
//	  -tenantwire bin/tenantwire -dir .dev-cluster -namespace tenant-acme-family-practice -integration cerbo-to-quickbooks
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/tenantwire/tenantwire/internal/devsync"
	"github.com/tenantwire/tenantwire/internal/record"
)

// firstCycleTimeout bounds the wait for the first cycle, which starts as soon as the runtime has
// read its files.
const firstCycleTimeout = 60 * time.Second

func main() {
	// A flag set of its own: controller-runtime, linked in through internal/testenv, registers
	// -kubeconfig on the global one.
	flag := flag.NewFlagSet("synclocal", flag.ExitOnError)
	kubectlBin := flag.String("kubectl", "kubectl", "The kubectl binary.")
	kubeconfig := flag.String("kubeconfig", "", "The simulated cluster's kubeconfig.")
	o := devsync.Options{Notes: os.Stderr}
	flag.StringVar(&o.Binary, "tenantwire", "bin/tenantwire", "The tenantwire binary to run as `tenantwire sync`.")
	flag.StringVar(&o.Dir, "dir", ".dev-cluster", "Directory for the runtime's logs and its temporary files.")
	flag.StringVar(&o.Namespace, "namespace", "", "The Integration's namespace.")
	flag.StringVar(&o.Integration, "integration", "", "The Integration.")
	_ = flag.Parse(os.Args[1:])
	o.Kubectl = func(ctx context.Context, stdin string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, *kubectlBin, append([]string{"--kubeconfig", *kubeconfig}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, stderr.String())
		}
		return stdout.String(), nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "synclocal:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o devsync.Options) error {
	rt, err := devsync.Start(ctx, o)
	if err != nil {
		return err
	}
	defer rt.Stop()
	waitCtx, cancel := context.WithTimeout(ctx, firstCycleTimeout)
	defer cancel()
	c, err := rt.Cycle(waitCtx, 0)
	if err != nil {
		return fmt.Errorf("%w (log: %s)", err, rt.LogFile)
	}
	if c.Created == 0 {
		return fmt.Errorf("the first sync cycle created nothing at the fake destination (log: %s)", rt.LogFile)
	}
	podLogs := "kubectl logs -n " + o.Namespace + " deploy/" + o.Integration + "-sync"
	if err := rt.ShowInPodLogs(ctx); err != nil {
		podLogs = fmt.Sprintf("(not available: %v; recreate the cluster with make dev-cluster-down)", err)
	}
	fmt.Printf("first sync cycle of %s/%s: created %d, updated %d, rejected %d, over %d pages\n",
		o.Namespace, o.Integration, c.Created, c.Updated, c.Rejected, c.Pages)
	customers := rt.QuickBooks.Customers()
	fmt.Printf("  fields sent:  %s (the Integration's spec.fields)\n", strings.Join(rt.Fields, ", "))
	fmt.Printf("  not sent:     %s\n", strings.Join(append(unauthorized(rt.Fields), "clinical notes, questionnaire answers, insurance IDs and Cerbo IDs"), ", "))
	fmt.Printf("  QuickBooks:   %d customers, with the properties %s\n", len(customers), strings.Join(customerProperties(customers), ", "))
	fmt.Printf("  runtime log:  tail -f %s\n  pod log:      %s\n  metrics:      curl -s http://%s/metrics | grep tenantwire_sync_\n",
		rt.LogFile, podLogs, rt.MetricsAddr)
	<-ctx.Done()
	return nil
}

// customerProperties are the properties the fake QuickBooks' customers hold, sorted: names only,
// never values.
func customerProperties(customers []map[string]any) []string {
	var names []string
	for _, c := range customers {
		for name := range c {
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names
}

// unauthorized are the patient fields the Integration does not authorize.
func unauthorized(fields []string) []string {
	var out []string
	for _, spec := range record.Vocabulary() {
		if !slices.Contains(fields, string(spec.Field)) {
			out = append(out, string(spec.Field))
		}
	}
	return out
}
