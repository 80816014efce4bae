package manager

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
)

// memoryLimitShare is the part of the container's memory limit the Go runtime may use before the
// collector works harder; the rest is for what the runtime does not count.
const memoryLimitShare = 0.9

// cgroupRoots are where the memory controller's hierarchy is mounted: cgroup v2, then v1.
var cgroupRoots = []struct{ mount, limitFile string }{
	{"sys/fs/cgroup", "memory.max"},
	{"sys/fs/cgroup/memory", "memory.limit_in_bytes"},
}

// containerMemoryLimit reads the memory limit of the cgroup the process runs in, from root (the
// file system root): the lowest limit on the path from the process's own cgroup (read from
// /proc/self/cgroup) up to the hierarchy's root, since each ancestor's limit binds too. Inside a
// container with its own cgroup namespace that path is "/" and the root's file is the container's;
// outside one (a process placed in a cgroup by hand, or by a runtime without cgroup namespaces) the
// path is the real one. It reports false when no limit is set.
func containerMemoryLimit(root fs.FS) (int64, bool) {
	self, _ := fs.ReadFile(root, "proc/self/cgroup")
	unified, memory := CgroupPaths(self)
	paths := [2]string{unified, memory}
	for i, r := range cgroupRoots {
		var limit int64
		found := false
		// Where /proc/self/cgroup names no path (""), this is the hierarchy's root.
		for dir := path.Join(r.mount, paths[i]); ; dir = path.Dir(dir) {
			if v, ok := readLimit(root, path.Join(dir, r.limitFile)); ok && (!found || v < limit) {
				limit, found = v, true
			}
			if dir == r.mount || !strings.HasPrefix(dir, r.mount+"/") {
				break
			}
		}
		if found {
			return limit, true
		}
	}
	return 0, false
}

// CgroupPaths returns the process's path in the unified (v2) hierarchy and in v1's memory
// hierarchy, from the content of /proc/self/cgroup; "" where it names none.
func CgroupPaths(procSelfCgroup []byte) (unified, memory string) {
	return CgroupPath(procSelfCgroup, ""), CgroupPath(procSelfCgroup, "memory")
}

// CgroupPath returns the process's path in v1's hierarchy of controller, or in the unified (v2)
// hierarchy for "", from the content of /proc/self/cgroup; "" where it names none.
func CgroupPath(procSelfCgroup []byte, controller string) string {
	sc := bufio.NewScanner(bytes.NewReader(procSelfCgroup))
	for sc.Scan() {
		// hierarchy-ID:controller-list:path; v2 has ID 0 and an empty controller list.
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/") {
			continue
		}
		if controller == "" && parts[0] == "0" && parts[1] == "" ||
			controller != "" && slices.Contains(strings.Split(parts[1], ","), controller) {
			return parts[2]
		}
	}
	return ""
}

// readLimit reads one limit file; "max" (v2) and v1's near-MaxInt64 mean no limit.
func readLimit(root fs.FS, name string) (int64, bool) {
	b, err := fs.ReadFile(root, name)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || v <= 0 || v >= 1<<62 {
		return 0, false
	}
	return v, true
}

// SetMemoryLimit gives the Go runtime a soft memory limit derived from the container's limit
// (SoftMemoryLimit), unless GOMEMLIMIT is set. Without it the collector lets the heap reach twice
// the live heap (GOGC=100), which is what the container limit has to cover; with it the peak stays
// near the live heap and the collector only works harder near the limit. In a container with a
// limit it first advises random reads of the binary (AdviseRandomCodeReads), whatever GOMEMLIMIT
// says, and returns why that failed, if it did. It returns the limit set, or 0. Call it after
// package initialisation, when the binary's pages that start-up touches are mapped.
func SetMemoryLimit() (int64, error) {
	root := os.DirFS("/")
	limit, ok := containerMemoryLimit(root)
	if !ok {
		return 0, nil
	}
	adviseErr := AdviseRandomCodeReads()
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return 0, adviseErr
	}
	soft := SoftMemoryLimit(limit, binaryReserve(fileResident(root), adviseErr == nil))
	debug.SetMemoryLimit(soft)
	return soft, adviseErr
}

// binaryWorkingSet is how much of its own binary the manager keeps using once it runs. Start-up
// leaves about 43 MiB of the binary resident (the package initialisers are spread over all of it),
// but under load at 1000 tenants the manager referenced 13 MiB of those pages in 30s and 13.4 MiB
// in 60s (cleared with /proc/PID/clear_refs, summed from smaps; docs/benchmarks.md, run L). The
// kernel reclaims the pages nobody touches before the ones in use, so the pages start-up alone
// needed make room for the heap; reserving them all left the heap 23 MiB less at 128Mi, and the
// collector ran ten times a second where that room would have let it rest.
const binaryWorkingSet = 20 << 20

// binaryReserve is how much of the container's limit the binary's pages (mapped: what start-up
// left resident) keep: its working set, or what is mapped if that is less. Without random reads a
// fault on a reclaimed page reads the device's read-ahead window around it into the container's
// charge, and a working set's reserve thrashed (docs/benchmarks.md, run M): then all of it.
func binaryReserve(mapped int64, randomReads bool) int64 {
	if !randomReads {
		return mapped
	}
	return min(mapped, binaryWorkingSet)
}

// SoftMemoryLimit is the Go memory limit for a container limited to limit bytes whose binary
// keeps reserved bytes of it (binaryReserve): 90% of the limit, less those. The container's
// accounting counts the binary's pages (page cache charged to it) beside the runtime's memory, and
// a limit that leaves the pages in use no room makes the kernel evict and re-read the manager's
// code while the heap grows. The runtime keeps at least a quarter of the limit, whatever the
// binary keeps.
func SoftMemoryLimit(limit, reserved int64) int64 {
	return max(int64(float64(limit)*memoryLimitShare)-reserved, limit/4)
}

// fileResident reads the process's file-backed resident pages (RssFile of /proc/self/status), in
// bytes; 0 when unknown.
func fileResident(root fs.FS) int64 {
	b, err := fs.ReadFile(root, "proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "RssFile:")
		if !ok {
			continue
		}
		if f := strings.Fields(rest); len(f) == 2 && f[1] == "kB" {
			if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
