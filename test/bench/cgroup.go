package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tenantwire/tenantwire/internal/manager"
)

// memCgroup is a child memory cgroup of the bench's own, in which the operator runs as in a
// container: the kernel enforces the limit and charges to it every page the operator faults,
// the page cache it reads included, as a container's memory accounting does.
type memCgroup struct {
	version int
	dir     string
	// noPeak is set on cgroup v2 kernels without memory.peak (before 5.19): the peak is then the
	// highest memory.current that sample saw.
	noPeak  bool
	mu      sync.Mutex
	sampled int64
}

// cgroupStats are what the cgroup saw of the operator.
type cgroupStats struct {
	// Version is 1 or 2; 0 when no cgroup enforced the limit.
	Version int
	// PeakBytes is the highest usage charged to the cgroup: anonymous memory and page cache.
	PeakBytes int64
	OOMKills  int64
	// Failcnt (v1) counts the charges that hit the limit and made the kernel reclaim.
	Failcnt int64
}

func (s cgroupStats) peakMiB() float64 { return float64(s.PeakBytes) / (1 << 20) }

// summary says what the cgroup limited to limit counted, for an error.
func (s cgroupStats) summary(limit string) string {
	msg := fmt.Sprintf("memory cgroup (%s) counted %d OOM kill(s) and a peak usage of %.1f MiB", limit, s.OOMKills, s.peakMiB())
	if s.Version == 1 {
		// The kernel reclaims the operator's code pages before it OOM-kills: a limit below the
		// working set shows as a limit hit many times, the operator re-reading its code from disk.
		msg += fmt.Sprintf(", and hit its limit %d times", s.Failcnt)
	}
	return msg
}

// newMemCgroup creates the cgroup name as a child of the bench's own memory cgroup and limits it
// to limit bytes. root is the file system root ("/"; a fake tree in tests). It tries
// cgroup v2 when /sys/fs/cgroup is the unified hierarchy, then v1's memory hierarchy.
func newMemCgroup(root, name string, limit int64) (*memCgroup, error) {
	self, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return nil, fmt.Errorf("reading the bench's cgroups: %w", err)
	}
	unified, memory := manager.CgroupPaths(self)
	mount := filepath.Join(root, "sys/fs/cgroup")
	var errs []error
	// Only the root of a cgroup2 mount has cgroup.controllers; on v1 and hybrid hosts
	// /sys/fs/cgroup is a tmpfs holding one mount per hierarchy.
	if _, err := os.Stat(filepath.Join(mount, "cgroup.controllers")); err == nil && unified != "" {
		g, err := newV2(filepath.Join(mount, unified), name, limit)
		if err == nil {
			return g, nil
		}
		errs = append(errs, err)
	}
	if memory != "" {
		g, err := newV1(filepath.Join(mount, "memory", memory), name, limit)
		if err == nil {
			return g, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, errors.New("neither a cgroup v2 hierarchy at /sys/fs/cgroup nor a v1 memory hierarchy")
	}
	return nil, errors.Join(errs...)
}

func newV2(parent, name string, limit int64) (*memCgroup, error) {
	ctrls, err := os.ReadFile(filepath.Join(parent, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("cgroup v2: %w", err)
	}
	if !hasField(string(ctrls), "memory") {
		return nil, fmt.Errorf("cgroup v2: no memory controller in %s", parent)
	}
	sub, err := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control"))
	if err != nil {
		return nil, fmt.Errorf("cgroup v2: %w", err)
	}
	// A non-root cgroup that holds processes (the bench's, typically) cannot enable a controller
	// for its children (EBUSY): v2 is then out of reach.
	if !hasField(string(sub), "memory") {
		if err := os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+memory"), 0); err != nil {
			return nil, fmt.Errorf("cgroup v2: enabling the memory controller for children of %s: %w", parent, err)
		}
	}
	g := &memCgroup{version: 2, dir: filepath.Join(parent, name)}
	if err := g.create("memory.max", limit); err != nil {
		return nil, fmt.Errorf("cgroup v2: %w", err)
	}
	if _, err := os.Stat(filepath.Join(g.dir, "memory.peak")); err != nil {
		g.noPeak = true
	}
	return g, nil
}

func newV1(parent, name string, limit int64) (*memCgroup, error) {
	g := &memCgroup{version: 1, dir: filepath.Join(parent, name)}
	if err := g.create("memory.limit_in_bytes", limit); err != nil {
		return nil, fmt.Errorf("cgroup v1: %w", err)
	}
	return g, nil
}

// create makes the cgroup's directory and writes its limit.
func (g *memCgroup) create(limitFile string, limit int64) error {
	if err := os.Mkdir(g.dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(g.dir, limitFile), []byte(strconv.FormatInt(limit, 10)), 0); err != nil {
		_ = os.Remove(g.dir)
		return fmt.Errorf("setting the limit of %s: %w", g.dir, err)
	}
	return nil
}

// procs is the file a process writes its pid to in order to move into the cgroup.
func (g *memCgroup) procs() string { return filepath.Join(g.dir, "cgroup.procs") }

// sample records memory.current where the kernel keeps no peak.
func (g *memCgroup) sample() {
	if !g.noPeak {
		return
	}
	v, err := readInt(filepath.Join(g.dir, "memory.current"))
	if err != nil {
		return
	}
	g.mu.Lock()
	g.sampled = max(g.sampled, v)
	g.mu.Unlock()
}

func (g *memCgroup) stats() (cgroupStats, error) {
	s := cgroupStats{Version: g.version}
	var err error
	if g.version == 1 {
		if s.PeakBytes, err = readInt(filepath.Join(g.dir, "memory.max_usage_in_bytes")); err != nil {
			return s, err
		}
		if s.Failcnt, err = readInt(filepath.Join(g.dir, "memory.failcnt")); err != nil {
			return s, err
		}
		s.OOMKills, err = readKeyed(filepath.Join(g.dir, "memory.oom_control"), "oom_kill")
		return s, err
	}
	if g.noPeak {
		g.sample()
		g.mu.Lock()
		s.PeakBytes = g.sampled
		g.mu.Unlock()
	} else if s.PeakBytes, err = readInt(filepath.Join(g.dir, "memory.peak")); err != nil {
		return s, err
	}
	s.OOMKills, err = readKeyed(filepath.Join(g.dir, "memory.events"), "oom_kill")
	return s, err
}

// remove deletes the cgroup once its processes have exited.
func (g *memCgroup) remove() error { return removeCgroup(g.dir) }

// removeCgroup deletes a cgroup's directory. The kernel may still count a reaped process in its
// cgroup for a moment, so rmdir is retried while it reports the cgroup busy.
func removeCgroup(dir string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := os.Remove(dir)
		if errors.Is(err, syscall.EBUSY) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err != nil {
			return fmt.Errorf("removing cgroup %s: %w", dir, err)
		}
		return nil
	}
}

// parseKeyed reads key's count from a flat keyed file (memory.events, memory.oom_control): one
// "key value" a line. A key the kernel does not report yet counts 0.
func parseKeyed(content, key string) (int64, error) {
	for _, line := range strings.Split(content, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || f[0] != key {
			continue
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad %s line %q", key, line)
		}
		return v, nil
	}
	return 0, nil
}

func readKeyed(path, key string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := parseKeyed(string(b), key)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

func hasField(s, field string) bool {
	for _, f := range strings.Fields(s) {
		if f == field {
			return true
		}
	}
	return false
}
