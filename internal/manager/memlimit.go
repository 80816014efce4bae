package manager

import (
	"io/fs"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimitShare is the part of the container's memory limit the Go heap may grow to before the
// collector works harder; the rest is for the binary, stacks and what the runtime does not count.
const memoryLimitShare = 0.9

// cgroupMemoryFiles hold the container's memory limit: cgroup v2, then v1.
var cgroupMemoryFiles = []string{"sys/fs/cgroup/memory.max", "sys/fs/cgroup/memory/memory.limit_in_bytes"}

// containerMemoryLimit reads the memory limit of the cgroup the process runs in, from root (the
// file system root). It reports false when there is none.
func containerMemoryLimit(root fs.FS) (int64, bool) {
	for _, name := range cgroupMemoryFiles {
		b, err := fs.ReadFile(root, name)
		if err != nil {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		// "max" (v2) fails to parse; v1 reports no limit as a number near MaxInt64.
		if err != nil || v <= 0 || v >= 1<<62 {
			return 0, false
		}
		return v, true
	}
	return 0, false
}

// SetMemoryLimit gives the Go runtime a soft memory limit of 90% of the container's limit, unless
// GOMEMLIMIT is set. Without it the collector lets the heap reach twice the live heap (GOGC=100),
// which is what the container limit has to cover; with it the peak stays near the live heap
// and the collector only works harder near the limit. It returns the limit set, or 0.
func SetMemoryLimit() int64 {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return 0
	}
	limit, ok := containerMemoryLimit(os.DirFS("/"))
	if !ok {
		return 0
	}
	soft := SoftMemoryLimit(limit)
	debug.SetMemoryLimit(soft)
	return soft
}

// SoftMemoryLimit is the Go memory limit the manager sets in a container limited to limit bytes.
func SoftMemoryLimit(limit int64) int64 {
	return int64(float64(limit) * memoryLimitShare)
}
