package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewCPUCgroupV1(t *testing.T) {
	root := fakeRoot(t, map[string]string{
		"proc/self/cgroup":                         "4:memory:/m\n2:cpu,cpuacct:/kubepods/x\n0::/\n",
		"sys/fs/cgroup/cpu/kubepods/x/.keep":       "",
		"sys/fs/cgroup/unified/cgroup.controllers": "",
	})
	g, err := newCPUCgroup(root, "tenantwire-bench-1", 1000)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "sys/fs/cgroup/cpu/kubepods/x/tenantwire-bench-1")
	if g.version != 1 || g.dir != dir || g.procs() != filepath.Join(dir, "cgroup.procs") {
		t.Fatalf("got v%d %s", g.version, g.dir)
	}
	// One CPU: a whole period's worth of CPU time in every period.
	for file, want := range map[string]string{"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "100000"} {
		if got := readFile(t, filepath.Join(dir, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	stat := "nr_periods 600\nnr_throttled 12\nthrottled_time 1500000000\nnr_bursts 0\nburst_time 0\n"
	if err := os.WriteFile(filepath.Join(dir, "cpu.stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := g.throttling()
	if err != nil {
		t.Fatal(err)
	}
	if want := (cpuThrottling{Version: 1, Periods: 600, Throttled: 12, ThrottledTime: 1500 * time.Millisecond}); got != want {
		t.Errorf("throttling %+v, want %+v", got, want)
	}
}

func TestNewCPUCgroupV2SharesTheMemoryCgroup(t *testing.T) {
	root := fakeRoot(t, map[string]string{
		"proc/self/cgroup":                                "0::/bench\n",
		"sys/fs/cgroup/cgroup.controllers":                "cpu memory",
		"sys/fs/cgroup/bench/cgroup.subtree_control":      "memory",
		"sys/fs/cgroup/bench/tenantwire-bench-1/.keep":    "",
		"sys/fs/cgroup/bench/tenantwire-bench-1/cpu.stat": "usage_usec 9\nnr_periods 10\nnr_throttled 3\nthrottled_usec 250000\n",
	})
	g, err := newCPUCgroup(root, "tenantwire-bench-1", 500)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "sys/fs/cgroup/bench/tenantwire-bench-1")
	if g.version != 2 || g.dir != dir || g.created {
		t.Fatalf("got v%d %s created %v; want v2 in the memory cgroup's directory, not made here", g.version, g.dir, g.created)
	}
	if got := readFile(t, filepath.Join(root, "sys/fs/cgroup/bench/cgroup.subtree_control")); got != "+cpu" {
		t.Errorf("subtree_control written %q, want +cpu", got)
	}
	if got := readFile(t, filepath.Join(dir, "cpu.max")); got != "50000 100000" {
		t.Errorf("cpu.max %q, want half of each period", got)
	}
	got, err := g.throttling()
	if err != nil {
		t.Fatal(err)
	}
	if want := (cpuThrottling{Version: 2, Periods: 10, Throttled: 3, ThrottledTime: 250 * time.Millisecond}); got != want {
		t.Errorf("throttling %+v, want %+v", got, want)
	}
	// The memory cgroup removes the directory it made.
	if err := g.remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("removed the memory cgroup's directory: %v", err)
	}
}

func TestNewCPUCgroupWithoutAHierarchy(t *testing.T) {
	root := fakeRoot(t, map[string]string{"proc/self/cgroup": "4:memory:/m\n"})
	if _, err := newCPUCgroup(root, "x", 1000); err == nil || !strings.Contains(err.Error(), "v1 cpu hierarchy") {
		t.Errorf("error %v, want one naming the missing hierarchy", err)
	}
}

// TestEnterCgroups: the process that writes its pid to every cgroup is the one that becomes argv.
func TestEnterCgroups(t *testing.T) {
	dir := t.TempDir()
	procs := []string{filepath.Join(dir, "memory.procs"), filepath.Join(dir, "cpu.procs")}
	argv := enterCgroups(procs, []string{"/bin/sh", "-c", `echo "$$ $1"`, "sh", "arg with spaces"})
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, rest, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if rest != "arg with spaces" {
		t.Errorf("argv reached the command as %q", rest)
	}
	for _, p := range procs {
		if got := strings.TrimSpace(readFile(t, p)); got != pid {
			t.Errorf("%s holds %q, want the command's pid %s", filepath.Base(p), got, pid)
		}
	}
	// A cgroup that refuses the process stops the start.
	bad := enterCgroups([]string{filepath.Join(dir, "missing", "cgroup.procs")}, []string{"/bin/true"})
	if err := exec.Command(bad[0], bad[1:]...).Run(); err == nil {
		t.Error("started although the process could not enter its cgroup")
	}
}
