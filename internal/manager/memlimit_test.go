package manager

import (
	"testing"
	"testing/fstest"
)

func TestContainerMemoryLimit(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := map[string]struct {
		files fstest.MapFS
		want  int64
		ok    bool
	}{
		"cgroup v2 limit, own namespace": {files: fstest.MapFS{
			"proc/self/cgroup":         file("0::/\n"),
			"sys/fs/cgroup/memory.max": file("268435456\n"),
		}, want: 268435456, ok: true},
		"cgroup v2 no limit": {files: fstest.MapFS{"sys/fs/cgroup/memory.max": file("max\n")}},
		"cgroup v2 own cgroup below the root": {files: fstest.MapFS{
			"proc/self/cgroup":                        file("0::/bench/operator\n"),
			"sys/fs/cgroup/memory.max":                file("max\n"),
			"sys/fs/cgroup/bench/memory.max":          file("max\n"),
			"sys/fs/cgroup/bench/operator/memory.max": file("134217728\n"),
		}, want: 134217728, ok: true},
		"cgroup v2 an ancestor's lower limit binds": {files: fstest.MapFS{
			"proc/self/cgroup":                        file("0::/bench/operator\n"),
			"sys/fs/cgroup/bench/memory.max":          file("67108864\n"),
			"sys/fs/cgroup/bench/operator/memory.max": file("134217728\n"),
		}, want: 67108864, ok: true},
		"cgroup v2 path of the host, hierarchy of the container": {files: fstest.MapFS{
			"proc/self/cgroup":         file("0::/kubepods/burstable/pod1/abc\n"),
			"sys/fs/cgroup/memory.max": file("268435456\n"),
		}, want: 268435456, ok: true},
		"cgroup v1 limit":    {files: fstest.MapFS{"sys/fs/cgroup/memory/memory.limit_in_bytes": file("134217728\n")}, want: 134217728, ok: true},
		"cgroup v1 no limit": {files: fstest.MapFS{"sys/fs/cgroup/memory/memory.limit_in_bytes": file("9223372036854771712\n")}},
		"cgroup v1 own cgroup below the root": {files: fstest.MapFS{
			"proc/self/cgroup":                                      file("9:name=systemd:/\n4:memory:/jobs/bench\n3:cpuset:/\n0::/\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes":            file("9223372036854771712\n"),
			"sys/fs/cgroup/memory/jobs/memory.limit_in_bytes":       file("9223372036854771712\n"),
			"sys/fs/cgroup/memory/jobs/bench/memory.limit_in_bytes": file("134217728\n"),
		}, want: 134217728, ok: true},
		"no cgroup files": {files: fstest.MapFS{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := containerMemoryLimit(tc.files)
			if got != tc.want || ok != tc.ok {
				t.Errorf("containerMemoryLimit() = %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestCgroupPaths(t *testing.T) {
	for _, tc := range []struct {
		name, content, unified, memory string
	}{
		{"v2 only", "0::/user.slice/session-1.scope\n", "/user.slice/session-1.scope", ""},
		{"hybrid", "9:name=systemd:/\n4:memory:/process_api/5a22\n3:cpuset:/\n0::/\n", "/", "/process_api/5a22"},
		{"v1 memory in a joint hierarchy", "5:cpu,memory:/docker/abc\n", "", "/docker/abc"},
		{"memsw-like names are not memory", "6:memory_extra:/x\n", "", ""},
		{"path with colons", "4:memory:/a:b\n", "", "/a:b"},
		{"junk", "garbage\n\n1:cpu\n", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unified, memory := CgroupPaths([]byte(tc.content))
			if unified != tc.unified || memory != tc.memory {
				t.Errorf("got (%q, %q), want (%q, %q)", unified, memory, tc.unified, tc.memory)
			}
		})
	}
}

func TestCgroupPathOfAController(t *testing.T) {
	content := []byte("9:name=systemd:/\n4:memory:/m\n2:cpu,cpuacct:/kubepods/pod1\n1:cpuset:/s\n0::/\n")
	for controller, want := range map[string]string{"cpu": "/kubepods/pod1", "cpuacct": "/kubepods/pod1", "cpuset": "/s", "memory": "/m", "": "/", "pids": ""} {
		if got := CgroupPath(content, controller); got != want {
			t.Errorf("CgroupPath(%q) = %q, want %q", controller, got, want)
		}
	}
}

func TestSoftMemoryLimit(t *testing.T) {
	const mi = 1 << 20
	tests := map[string]struct {
		limit, reserved, want int64
	}{
		"nothing reserved: 90% of the limit":       {limit: 256 * mi, reserved: 0, want: 256 * mi * 9 / 10},
		"the binary's reserve comes off the share": {limit: 128 * mi, reserved: 40 * mi, want: 128*mi*9/10 - 40*mi},
		"at least a quarter of the limit":          {limit: 64 * mi, reserved: 60 * mi, want: 16 * mi},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := SoftMemoryLimit(tc.limit, tc.reserved); got != tc.want {
				t.Errorf("SoftMemoryLimit(%d, %d) = %d, want %d", tc.limit, tc.reserved, got, tc.want)
			}
		})
	}
}

func TestBinaryReserve(t *testing.T) {
	const mi = 1 << 20
	tests := map[string]struct {
		mapped      int64
		randomReads bool
		want        int64
	}{
		"read at random: only the working set of all start-up left resident": {mapped: 43 * mi, randomReads: true, want: binaryWorkingSet},
		"read at random, less mapped than the working set: what is mapped":   {mapped: 12 * mi, randomReads: true, want: 12 * mi},
		"with read-ahead: all start-up left resident":                        {mapped: 43 * mi, randomReads: false, want: 43 * mi},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := binaryReserve(tc.mapped, tc.randomReads); got != tc.want {
				t.Errorf("binaryReserve(%d, %t) = %d, want %d", tc.mapped, tc.randomReads, got, tc.want)
			}
		})
	}
}

func TestFileResident(t *testing.T) {
	status := "Name:\ttenantwire\nVmRSS:\t  90000 kB\nRssAnon:\t   50000 kB\nRssFile:\t   40000 kB\nRssShmem:\t       0 kB\n"
	if got := fileResident(fstest.MapFS{"proc/self/status": {Data: []byte(status)}}); got != 40000<<10 {
		t.Errorf("fileResident = %d, want %d", got, 40000<<10)
	}
	if got := fileResident(fstest.MapFS{}); got != 0 {
		t.Errorf("fileResident without /proc = %d, want 0", got)
	}
}
