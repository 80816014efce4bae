package manager

import (
	"os"
	"strings"
	"testing"
)

// The advice must reach the kernel: every mapping of the test binary then carries the "rr"
// (random read) flag in /proc/self/smaps, and no other mapping gains it.
func TestAdviseRandomCodeReadsMarksTheBinarysMappings(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := AdviseRandomCodeReads(); err != nil {
		t.Fatal(err)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	var path string
	binary, flagged := 0, 0
	for _, line := range strings.Split(string(smaps), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			path = ""
			if len(f) >= 6 {
				path = strings.Join(f[5:], " ")
			}
			if path == exe {
				binary++
			}
		case len(f) > 0 && f[0] == "VmFlags:":
			rr := strings.Contains(" "+strings.Join(f[1:], " ")+" ", " rr ")
			if rr && path != exe {
				t.Errorf("mapping of %q advised random reads too", path)
			}
			if rr && path == exe {
				flagged++
			}
		}
	}
	if binary == 0 || flagged != binary {
		t.Errorf("%d of the binary's %d mappings advised random reads, want all", flagged, binary)
	}
}
