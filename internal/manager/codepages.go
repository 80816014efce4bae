package manager

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// addrRange is a mapping's address range, [start, end).
type addrRange struct{ start, end uintptr }

// binaryRanges returns the ranges of /proc/self/maps (its content) mapped from the file at exe.
func binaryRanges(procSelfMaps []byte, exe string) []addrRange {
	var out []addrRange
	sc := bufio.NewScanner(bytes.NewReader(procSelfMaps))
	for sc.Scan() {
		// address perms offset dev inode pathname; the path may hold spaces and end in " (deleted)"
		// once the file was replaced.
		f := strings.SplitN(sc.Text(), " ", 6)
		if len(f) != 6 {
			continue
		}
		if path := strings.TrimSuffix(strings.TrimSpace(f[5]), " (deleted)"); path != exe {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		out = append(out, addrRange{uintptr(start), uintptr(end)})
	}
	return out
}
