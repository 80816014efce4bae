package manager

import (
	"testing"
	"testing/fstest"
)

func TestContainerMemoryLimit(t *testing.T) {
	tests := map[string]struct {
		files fstest.MapFS
		want  int64
		ok    bool
	}{
		"cgroup v2 limit":    {files: fstest.MapFS{"sys/fs/cgroup/memory.max": {Data: []byte("268435456\n")}}, want: 268435456, ok: true},
		"cgroup v2 no limit": {files: fstest.MapFS{"sys/fs/cgroup/memory.max": {Data: []byte("max\n")}}},
		"cgroup v1 limit":    {files: fstest.MapFS{"sys/fs/cgroup/memory/memory.limit_in_bytes": {Data: []byte("134217728\n")}}, want: 134217728, ok: true},
		"cgroup v1 no limit": {files: fstest.MapFS{"sys/fs/cgroup/memory/memory.limit_in_bytes": {Data: []byte("9223372036854771712\n")}}},
		"no cgroup files":    {files: fstest.MapFS{}},
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
