package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func TestESOAliveFollowsThePidFile(t *testing.T) {
	dir := t.TempDir()
	write := func(pid int) {
		if err := os.WriteFile(filepath.Join(dir, "external-secrets.pid"), []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(os.Getpid())
	if alive, err := esoAlive(dir); err != nil || !alive {
		t.Fatalf("a running process: alive %v, %v", alive, err)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Skipf("no true(1) here: %v", err)
	}
	write(gone.Process.Pid)
	if alive, err := esoAlive(dir); err != nil || alive {
		t.Errorf("an exited process: alive %v, %v", alive, err)
	}
}

func TestESOCauseNamesTheExit(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("the External Secrets Operator exited during the run"))
	err := esoCause(ctx, context.Canceled)
	if err == nil || err.Error() != "the External Secrets Operator exited during the run (context canceled)" {
		t.Errorf("got %v", err)
	}
	if err := esoCause(context.Background(), nil); err != nil {
		t.Errorf("no error became %v", err)
	}
}
