package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// cpuSlice is the length of one CPU profile request; the operator phase is covered by consecutive
// slices because its length is not known in advance. pprof merges them when given several files.
const cpuSlice = 30 * time.Second

// profiler collects CPU profiles of the operator from its pprof endpoint while a phase runs.
type profiler struct {
	addr, dir, prefix string
	cancel            context.CancelFunc
	wg                sync.WaitGroup
	mu                sync.Mutex
	files             []string
}

// startCPUProfiles fetches consecutive CPU profiles into dir until stop is called.
func startCPUProfiles(ctx context.Context, addr, dir, prefix string) *profiler {
	ctx, cancel := context.WithCancel(ctx)
	p := &profiler{addr: addr, dir: dir, prefix: prefix, cancel: cancel}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for i := 0; ctx.Err() == nil; {
			f := filepath.Join(dir, fmt.Sprintf("%s-cpu-%02d.pb.gz", prefix, i))
			// Every slice runs to its end, so none is lost; stop waits for the one in progress.
			if err := fetch(context.WithoutCancel(ctx), fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(cpuSlice.Seconds())), f); err != nil {
				// The manager may not listen yet; its first seconds are cache sync, not load.
				time.Sleep(time.Second)
				continue
			}
			p.mu.Lock()
			p.files = append(p.files, f)
			p.mu.Unlock()
			i++
		}
	}()
	return p
}

// stop waits for the slice in progress and writes `go tool pprof -top` of all slices together.
func (p *profiler) stop() {
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.files) == 0 {
		return
	}
	topReport(filepath.Join(p.dir, p.prefix+"-cpu-top.txt"), p.files...)
}

// heapProfile saves the operator's heap profile and its -top report (in-use space).
func heapProfile(ctx context.Context, addr, dir, prefix string) {
	f := filepath.Join(dir, prefix+"-heap.pb.gz")
	if err := fetch(ctx, "http://"+addr+"/debug/pprof/heap", f); err != nil {
		fmt.Fprintf(os.Stderr, "bench: heap profile: %v\n", err)
		return
	}
	topReport(filepath.Join(dir, prefix+"-heap-top.txt"), f)
}

func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// topReport runs `go tool pprof -top` on the profiles (merged when several) into out.
func topReport(out string, profiles ...string) {
	args := append([]string{"tool", "pprof", "-top", "-nodecount=40"}, profiles...)
	b, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: go tool pprof: %v\n%s", err, b)
		return
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		return
	}
	fmt.Printf("   profile: %s\n", out)
}
