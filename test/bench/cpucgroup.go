package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tenantwire/tenantwire/internal/manager"
)

// cfsPeriod is the kubelet's CFS period: a container with limits.cpu L may run L×cfsPeriod of CPU
// time in every period, and is throttled for the rest of the period once it has.
const cfsPeriod = 100 * time.Millisecond

// cpuCgroup is a child cgroup of the bench's own in the cpu controller, whose CFS quota holds the
// operator to a container's CPU limit. On these 2-core machines the operator shares the cores with
// the API server; without the limit the chart ships, it could take both, as no container could.
type cpuCgroup struct {
	version int
	dir     string
	// created is false on cgroup v2 when the memory cgroup made the directory: removing it is
	// the memory cgroup's.
	created bool
}

// cpuThrottling is what the cpu cgroup (of cgroup Version) counted: CFS periods in which the
// operator ran, in how many it used its whole quota and was held back, and for how long in all.
type cpuThrottling struct {
	Version            int
	Periods, Throttled int64
	ThrottledTime      time.Duration
}

func (t cpuThrottling) String() string {
	return fmt.Sprintf("cpu cgroup v%d: throttled in %d of %d periods (%s in all)", t.Version, t.Throttled, t.Periods, t.ThrottledTime.Round(time.Millisecond))
}

// newCPUCgroup creates the cgroup name, as a child of the bench's own, with a quota of millicores
// thousandths of a CPU. root is the file system root ("/"; a fake tree in tests). Like
// newMemCgroup, it tries cgroup v2 when /sys/fs/cgroup is the unified hierarchy, then v1's cpu
// hierarchy.
func newCPUCgroup(root, name string, millicores int64) (*cpuCgroup, error) {
	self, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return nil, fmt.Errorf("reading the bench's cgroups: %w", err)
	}
	unified, cpu := manager.CgroupPath(self, ""), manager.CgroupPath(self, "cpu")
	mount := filepath.Join(root, "sys/fs/cgroup")
	quota := cfsPeriod.Microseconds() * millicores / 1000
	var errs []error
	if _, err := os.Stat(filepath.Join(mount, "cgroup.controllers")); err == nil && unified != "" {
		g, err := newCPUv2(filepath.Join(mount, unified), name, quota)
		if err == nil {
			return g, nil
		}
		errs = append(errs, err)
	}
	if cpu != "" {
		g := &cpuCgroup{version: 1, dir: filepath.Join(mount, "cpu", cpu, name), created: true}
		if err := os.Mkdir(g.dir, 0o755); err != nil {
			return nil, fmt.Errorf("cgroup v1: %w", err)
		}
		for file, v := range map[string]int64{"cpu.cfs_period_us": cfsPeriod.Microseconds(), "cpu.cfs_quota_us": quota} {
			if err := os.WriteFile(filepath.Join(g.dir, file), []byte(fmt.Sprint(v)), 0); err != nil {
				_ = os.Remove(g.dir)
				return nil, fmt.Errorf("cgroup v1: setting %s: %w", file, err)
			}
		}
		return g, nil
	}
	if len(errs) == 0 {
		return nil, errors.New("neither a cgroup v2 hierarchy at /sys/fs/cgroup nor a v1 cpu hierarchy")
	}
	return nil, errors.Join(errs...)
}

// newCPUv2 limits the child name of parent, which the memory cgroup may have made already: on
// v2 one directory holds every controller's files.
func newCPUv2(parent, name string, quota int64) (*cpuCgroup, error) {
	sub, err := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control"))
	if err != nil {
		return nil, fmt.Errorf("cgroup v2: %w", err)
	}
	if !hasField(string(sub), "cpu") {
		if err := os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+cpu"), 0); err != nil {
			return nil, fmt.Errorf("cgroup v2: enabling the cpu controller for children of %s: %w", parent, err)
		}
	}
	g := &cpuCgroup{version: 2, dir: filepath.Join(parent, name), created: true}
	if err := os.Mkdir(g.dir, 0o755); errors.Is(err, os.ErrExist) {
		g.created = false
	} else if err != nil {
		return nil, fmt.Errorf("cgroup v2: %w", err)
	}
	if err := os.WriteFile(filepath.Join(g.dir, "cpu.max"), fmt.Appendf(nil, "%d %d", quota, cfsPeriod.Microseconds()), 0); err != nil {
		if g.created {
			_ = os.Remove(g.dir)
		}
		return nil, fmt.Errorf("cgroup v2: setting cpu.max: %w", err)
	}
	return g, nil
}

func (g *cpuCgroup) procs() string { return filepath.Join(g.dir, "cgroup.procs") }

// throttling reads cpu.stat: v1 counts the throttled time in nanoseconds, v2 in microseconds.
func (g *cpuCgroup) throttling() (cpuThrottling, error) {
	b, err := os.ReadFile(filepath.Join(g.dir, "cpu.stat"))
	if err != nil {
		return cpuThrottling{}, err
	}
	t := cpuThrottling{Version: g.version}
	var errs [3]error
	t.Periods, errs[0] = parseKeyed(string(b), "nr_periods")
	t.Throttled, errs[1] = parseKeyed(string(b), "nr_throttled")
	var throttled int64
	unit, key := time.Nanosecond, "throttled_time"
	if g.version == 2 {
		unit, key = time.Microsecond, "throttled_usec"
	}
	throttled, errs[2] = parseKeyed(string(b), key)
	t.ThrottledTime = time.Duration(throttled) * unit
	return t, errors.Join(errs[:]...)
}

// remove deletes the cgroup if this one made it.
func (g *cpuCgroup) remove() error {
	if !g.created {
		return nil
	}
	return removeCgroup(g.dir)
}

// enterCgroups returns the command line that moves the process into every cgroup whose
// cgroup.procs file is in procs, then becomes argv: every page it faults and every CPU second it
// uses, from its first, is charged there.
func enterCgroups(procs, argv []string) []string {
	const script = `n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ >"$1" || exit 1; shift; n=$((n - 1)); done; exec "$@"`
	return append(append([]string{"/bin/sh", "-c", script, "sh", fmt.Sprint(len(procs))}, procs...), argv...)
}
