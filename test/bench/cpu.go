package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The processes that share the machine in a run, by the name the kernel gives them (comm, cut to
// 15 bytes). Both phases end on ESO's one worker, so whether it got less CPU, or waited on a
// busier API server, is what tells the phases apart; this is where the machine's CPU went.
var cpuProcesses = []struct{ comm, label string }{
	{"kube-apiserver", "kube-apiserver"},
	{"etcd", "etcd"},
	{"external-secret", "ESO"},
	{"tenantwire", "operator"},
	{"kube-controller", "kube-controller-manager"},
	{"kube-scheduler", "kube-scheduler"},
	{"kwok-controller", "kwok"},
	{"bench", "bench"},
}

// clockTicks is USER_HZ, the unit of /proc's CPU times; 100 on every Linux architecture Go runs
// the bench on.
const clockTicks = 100

// cpuSnapshot is the CPU seconds each process of cpuProcesses had used, and the machine's busy
// and total CPU seconds (/proc/stat), at one moment (or, as cpuUse, between two).
type cpuSnapshot struct {
	byLabel     map[string]float64
	busy, total float64
}

// takeCPUSnapshot reads /proc. Processes of the same name are added up; one that exits between
// two snapshots drops out of the second (the phases' processes outlive them).
func takeCPUSnapshot() (cpuSnapshot, error) {
	s := cpuSnapshot{byLabel: map[string]float64{}}
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, err
	}
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	if s.busy, s.total, err = parseCPULine(string(line)); err != nil {
		return s, err
	}
	pids, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range pids {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // exited
		}
		comm, secs, err := parseProcStat(string(b))
		if err != nil {
			continue
		}
		for _, cp := range cpuProcesses {
			if comm == cp.comm {
				s.byLabel[cp.label] += secs
			}
		}
	}
	return s, nil
}

// parseCPULine reads the aggregate "cpu" line of /proc/stat: busy is everything but idle and
// iowait.
func parseCPULine(line string) (busy, total float64, err error) {
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat starts with %q, not the cpu line", line)
	}
	for i, x := range f[1:] {
		v, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return 0, 0, err
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy / clockTicks, total / clockTicks, nil
}

// parseProcStat reads a process's name and user plus system CPU seconds from /proc/PID/stat. The
// name is in parentheses and may hold spaces, so the fields are counted from its closing one.
func parseProcStat(stat string) (comm string, secs float64, err error) {
	open, end := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if open < 0 || end < open {
		return "", 0, fmt.Errorf("no name in %q", stat)
	}
	f := strings.Fields(stat[end+1:])
	// After the name: state is field 3 of proc(5), utime 14 and stime 15.
	if len(f) < 13 {
		return "", 0, fmt.Errorf("short stat %q", stat)
	}
	u, err := strconv.ParseFloat(f[11], 64)
	if err != nil {
		return "", 0, err
	}
	s, err := strconv.ParseFloat(f[12], 64)
	if err != nil {
		return "", 0, err
	}
	return stat[open+1 : end], (u + s) / clockTicks, nil
}

// cpuUse is the CPU each process and the machine used between two snapshots: a difference of
// two, in the same shape.
type cpuUse = cpuSnapshot

func (s cpuSnapshot) since(before cpuSnapshot) cpuUse {
	u := cpuUse{byLabel: map[string]float64{}, busy: s.busy - before.busy, total: s.total - before.total}
	for k, v := range s.byLabel {
		u.byLabel[k] = v - before.byLabel[k]
	}
	return u
}

func (u cpuUse) String() string {
	if u.total == 0 {
		return "not measured"
	}
	parts := make([]string, 0, len(cpuProcesses))
	for _, cp := range cpuProcesses {
		if v, ok := u.byLabel[cp.label]; ok && v > 0 {
			parts = append(parts, fmt.Sprintf("%s %.0f", cp.label, v))
		}
	}
	return fmt.Sprintf("machine busy %.0f%% (%.0f of %.0f CPU-seconds); by process (s): %s",
		100*u.busy/u.total, u.busy, u.total, strings.Join(parts, ", "))
}

// phaseCPU is the CPU used since start; a machine without /proc gives none (printed as not
// measured) rather than failing the run.
func phaseCPU(start cpuSnapshot, startErr error) cpuUse {
	end, err := takeCPUSnapshot()
	if startErr != nil || err != nil {
		return cpuUse{}
	}
	return end.since(start)
}
