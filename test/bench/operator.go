package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/tenantwire/tenantwire/internal/manager"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// startOperator builds and starts the operator with metrics on loopback, under cfg's memory and
// CPU limits if it has them.
func (c *cluster) startOperator(cfg config) error {
	bin, err := c.BuildOperator()
	if err != nil {
		return err
	}
	addrs, err := testenv.FreeLoopbackAddrs(2)
	if err != nil {
		return err
	}
	c.metricsAddr, c.pprofAddr = addrs[0], addrs[1]
	logPath := filepath.Join(c.DevDir, "manager.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	// The operator writes through its own copy of the descriptor.
	defer func() { _ = logf.Close() }()
	conc := fmt.Sprint(cfg.Concurrency)
	// The benchmark measures the operator's own work; its Integrations run without an approval.
	argv := append([]string{bin, "manager", "--metrics-bind-address=" + c.metricsAddr, "--metrics-secure=false",
		"--health-probe-bind-address=127.0.0.1:0", "--require-approval=false", "--tenant-concurrency=" + conc, "--integration-concurrency=" + conc, "--keypolicy-concurrency=" + conc, "--pprof-bind-address=" + c.pprofAddr,
		fmt.Sprintf("--kube-api-qps=%g", cfg.QPS), fmt.Sprintf("--kube-api-burst=%d", int(2*cfg.QPS)), "--zap-log-level=error"}, cfg.OperatorArgs...)
	env := append(os.Environ(), "KUBECONFIG="+c.ManagerKubeconfig)
	var procs []string
	if cfg.MemoryLimitBytes > 0 {
		if procs, env, err = c.limitMemory(cfg, argv[0], env); err != nil {
			return err
		}
	}
	if cfg.CPULimitMillis > 0 {
		g, err := newCPUCgroup("/", fmt.Sprintf("tenantwire-bench-%d", os.Getpid()), cfg.CPULimitMillis)
		if err != nil {
			return fmt.Errorf("-cpu-limit %s: %w", cfg.CPULimit, err)
		}
		c.cpuCgroup = g
		fmt.Printf("   operator: in cpu cgroup v%d %s, limit %s\n", g.version, g.dir, cfg.CPULimit)
		procs = append(procs, g.procs())
	}
	if len(procs) > 0 {
		argv = enterCgroups(procs, argv)
	}
	c.manager = exec.Command(argv[0], argv[1:]...)
	c.manager.Env = env
	c.manager.Stdout, c.manager.Stderr = logf, logf
	if err := c.manager.Start(); err != nil {
		return fmt.Errorf("starting the operator: %w", err)
	}
	c.exited = make(chan struct{})
	go func() {
		c.exitErr = c.exitError(c.manager.Wait(), cfg.MemoryLimit, logPath)
		close(c.exited)
	}()
	return nil
}

// limitMemory returns the cgroup.procs file of a memory cgroup limited to cfg's memory limit, for
// the operator to enter before it starts, or, where none can be made, the environment with the
// GOMEMLIMIT the manager would derive from the limit.
func (c *cluster) limitMemory(cfg config, bin string, env []string) ([]string, []string, error) {
	g, err := newMemCgroup("/", fmt.Sprintf("tenantwire-bench-%d", os.Getpid()), cfg.MemoryLimitBytes)
	if err != nil {
		soft := manager.SoftMemoryLimit(cfg.MemoryLimitBytes, 0) // the binary's pages are unknown before it runs
		fmt.Printf("   operator: no memory cgroup, so the %s limit is only GOMEMLIMIT %.1f MiB: %v\n", cfg.MemoryLimit, float64(soft)/(1<<20), err)
		return nil, append(env, fmt.Sprintf("GOMEMLIMIT=%d", soft)), nil
	}
	c.cgroup = g
	if err := evictFromPageCache(bin); err != nil {
		return nil, nil, err
	}
	fmt.Printf("   operator: in memory cgroup v%d %s, limit %s\n", g.version, g.dir, cfg.MemoryLimit)
	// The manager derives GOMEMLIMIT from the cgroup's limit itself.
	return []string{g.procs()}, env, nil
}

// evictFromPageCache drops the file's pages from the page cache. A page is charged to the cgroup
// that first reads it, and go build has just left the binary cached: the operator would map its
// code and read-only data (40 to 50 MiB) without its cgroup seeing them, where a fresh container
// reads its binary from disk into its own. Dirty pages cannot be dropped, hence the fsync.
func evictFromPageCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("evicting %s from the page cache: %w", path, err)
	}
	return nil
}

// exitError says why the manager exited, with what its cgroup counted and the end of its log.
func (c *cluster) exitError(waitErr error, limit, logPath string) error {
	how := "exit status 0"
	if waitErr != nil {
		how = waitErr.Error()
	}
	msg := "the operator exited during the run (" + how + ")"
	if s, ok := c.cgroupStats(); ok {
		if s.OOMKills > 0 {
			msg = "the operator was OOM-killed (" + how + ")"
		}
		msg += "; its " + s.summary(limit)
	}
	if b, err := os.ReadFile(logPath); err == nil && len(b) > 0 {
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		lines = lines[max(0, len(lines)-3):]
		for i, l := range lines {
			if len(l) > 300 {
				lines[i] = l[:300] + "..."
			}
		}
		msg += "; manager.log ends:\n" + strings.Join(lines, "\n")
	}
	return errors.New(msg)
}

func (c *cluster) cgroupStats() (cgroupStats, bool) {
	if c.cgroup == nil {
		return cgroupStats{}, false
	}
	s, err := c.cgroup.stats()
	return s, err == nil
}

// untilExit returns ctx cancelled when the manager exits: waiting on a dead operator would
// otherwise last until the timeout.
func (c *cluster) untilExit(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-c.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// explain returns why the manager exited if it has, since whatever failed after it died failed
// because it did; else err with what the manager's memory cgroup counted, which tells a
// timeout from an operator starved of memory.
func (c *cluster) explain(err error, limit string) error {
	select {
	case <-c.exited:
		return c.exitErr
	default:
		if s, ok := c.cgroupStats(); ok {
			return fmt.Errorf("%w; the operator's %s", err, s.summary(limit))
		}
		return err
	}
}
