package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseKeyed(t *testing.T) {
	for _, tc := range []struct {
		name, content string
		want          int64
		wantErr       bool
	}{
		{"memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n", 1, false},
		{"oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", 3, false},
		{"oom_control of a kernel before 4.13", "oom_kill_disable 0\nunder_oom 0\n", 0, false},
		{"oom_group_kill is another key", "oom_group_kill 2\n", 0, false},
		{"malformed", "oom_kill many\n", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseKeyed(tc.content, "oom_kill")
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("got (%d, %v), want (%d, error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// fakeRoot writes files under a temporary root, as the kernel would show them.
func fakeRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNewMemCgroupV1(t *testing.T) {
	root := fakeRoot(t, map[string]string{
		"proc/self/cgroup":                         "4:memory:/process_api/x\n0::/\n",
		"sys/fs/cgroup/memory/process_api/x/.keep": "",
		"sys/fs/cgroup/unified/cgroup.controllers": "",
	})
	g, err := newMemCgroup(root, "tenantwire-bench-1", 128<<20)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "sys/fs/cgroup/memory/process_api/x/tenantwire-bench-1")
	if g.version != 1 || g.dir != dir || g.procs() != filepath.Join(dir, "cgroup.procs") {
		t.Fatalf("got v%d %s", g.version, g.dir)
	}
	if got := readFile(t, filepath.Join(dir, "memory.limit_in_bytes")); got != "134217728" {
		t.Errorf("limit %q", got)
	}
	for name, content := range map[string]string{
		"memory.max_usage_in_bytes": "104857600\n", "memory.failcnt": "7\n",
		"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := g.stats()
	if err != nil {
		t.Fatal(err)
	}
	if want := (cgroupStats{Version: 1, PeakBytes: 100 << 20, OOMKills: 1, Failcnt: 7}); s != want {
		t.Errorf("stats %+v, want %+v", s, want)
	}
}

func TestNewMemCgroupV2(t *testing.T) {
	files := map[string]string{
		"proc/self/cgroup":                                 "0::/bench.scope\n",
		"sys/fs/cgroup/cgroup.controllers":                 "cpu io memory pids\n",
		"sys/fs/cgroup/bench.scope/cgroup.controllers":     "cpu io memory pids\n",
		"sys/fs/cgroup/bench.scope/cgroup.subtree_control": "cpu\n",
	}
	root := fakeRoot(t, files)
	g, err := newMemCgroup(root, "tenantwire-bench-1", 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	parent := filepath.Join(root, "sys/fs/cgroup/bench.scope")
	if g.version != 2 || g.dir != filepath.Join(parent, "tenantwire-bench-1") {
		t.Fatalf("got v%d %s", g.version, g.dir)
	}
	if got := readFile(t, filepath.Join(parent, "cgroup.subtree_control")); got != "+memory" {
		t.Errorf("subtree_control %q", got)
	}
	if got := readFile(t, filepath.Join(g.dir, "memory.max")); got != "67108864" {
		t.Errorf("limit %q", got)
	}
	// A fake tree has no memory.peak: the peak is the highest sampled memory.current.
	if !g.noPeak {
		t.Fatal("expected no memory.peak")
	}
	for _, current := range []string{"1048576", "3145728", "2097152"} {
		if err := os.WriteFile(filepath.Join(g.dir, "memory.current"), []byte(current+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		g.sample()
	}
	if err := os.WriteFile(filepath.Join(g.dir, "memory.events"), []byte("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := g.stats()
	if err != nil {
		t.Fatal(err)
	}
	if want := (cgroupStats{Version: 2, PeakBytes: 3 << 20, OOMKills: 1}); s != want {
		t.Errorf("stats %+v, want %+v", s, want)
	}
}

func TestNewMemCgroupUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
	}{
		{"v2 without the memory controller", map[string]string{
			"proc/self/cgroup":                 "0::/\n",
			"sys/fs/cgroup/cgroup.controllers": "cpu io pids\n",
		}},
		{"no hierarchy at all", map[string]string{"proc/self/cgroup": ""}},
		{"v1 parent missing (a host path in a container)", map[string]string{
			"proc/self/cgroup":                  "4:memory:/kubepods/pod1/abc\n",
			"sys/fs/cgroup/memory/cgroup.procs": "",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if g, err := newMemCgroup(fakeRoot(t, tc.files), "tenantwire-bench-1", 64<<20); err == nil {
				t.Fatalf("made %s, want an error", g.dir)
			}
		})
	}
}
