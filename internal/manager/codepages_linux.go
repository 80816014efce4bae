package manager

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// AdviseRandomCodeReads tells the kernel that the manager reads its own binary at random
// (madvise MADV_RANDOM on each of the executable's mappings), so that a page fault there reads the
// page it needs and not the read-ahead window around it.
//
// Why: a container's memory accounting is charged for the page cache its faults read. Under a
// tight limit the kernel reclaims the binary's pages to make room for the heap, and each fault on
// a reclaimed page then read the whole read-ahead window (8 MiB on the benchmark's machine) into
// the container's charge, which evicted other pages in use: at 1000 tenants in 128Mi the manager
// kept 3 MiB of its binary resident and stalled refaulting it (docs/benchmarks.md, run M). Start-up,
// which reads most of the binary once, runs before this, with read-ahead.
func AdviseRandomCodeReads() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return err
	}
	ranges := binaryRanges(maps, exe)
	if len(ranges) == 0 {
		return fmt.Errorf("no mapping of %s in /proc/self/maps", exe)
	}
	for _, r := range ranges {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r.start, r.end-r.start, unix.MADV_RANDOM); errno != 0 {
			return fmt.Errorf("madvise %#x-%#x: %w", r.start, r.end, errno)
		}
	}
	return nil
}
