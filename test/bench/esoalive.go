package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// untilESOExits returns ctx cancelled, with a cause that says so, when the External Secrets
// Operator's process exits. Both phases wait for ESO; without this a run whose ESO crashed (v0.20.4's
// fake provider can, upstream issue 6233) waited until its timeout and reported a slow operator.
func untilESOExits(ctx context.Context, devDir string) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
			if alive, err := esoAlive(devDir); err == nil && !alive {
				cancel(fmt.Errorf("the External Secrets Operator exited during the run; see %s",
					filepath.Join(devDir, "external-secrets.log")))
				return
			}
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

// esoAlive reads the pid hack/dev-cluster.sh recorded and asks whether that process still runs.
func esoAlive(devDir string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(devDir, "external-secrets.pid"))
	if err != nil {
		return false, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return false, err
	}
	switch err := syscall.Kill(pid, 0); err {
	case nil, syscall.EPERM:
		return !zombie(pid), nil
	case syscall.ESRCH:
		return false, nil
	default:
		return false, err
	}
}

// zombie tells a process that exited but was not reaped (its parent is the script that started
// it, long gone) from a running one.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, ok := strings.Cut(string(b), ") ")
	return ok && strings.HasPrefix(rest, "Z")
}

// esoCause puts why ctx ended in front of err when ESO's exit ended it.
func esoCause(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cause := context.Cause(ctx); cause != nil && cause != context.Canceled && cause != context.DeadlineExceeded {
		return fmt.Errorf("%w (%v)", cause, err)
	}
	return err
}
