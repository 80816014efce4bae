package main

import "testing"

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name, stat, comm string
		secs             float64
		wantErr          bool
	}{
		{name: "plain", stat: "23878 (cat) R 23875 23875 22244 0 -1 4194304 122 0 0 0 250 50 0 0 20 0 1 0 1 2",
			comm: "cat", secs: 3},
		{name: "a name with spaces and parentheses", stat: "7 (a (b) c) S 1 1 1 0 -1 0 0 0 0 0 100 1 0 0 20 0 1 0 1 2",
			comm: "a (b) c", secs: 1.01},
		{name: "cut short", stat: "7 (x) S 1 1", wantErr: true},
		{name: "no name", stat: "7 x S", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			comm, secs, err := parseProcStat(tc.stat)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && (comm != tc.comm || secs != tc.secs) {
				t.Errorf("got %q %v, want %q %v", comm, secs, tc.comm, tc.secs)
			}
		})
	}
}

func TestParseCPULine(t *testing.T) {
	// user nice system idle iowait irq softirq steal
	busy, total, err := parseCPULine("cpu  100 0 50 800 50 0 0 0 0 0")
	if err != nil || busy != 1.5 || total != 10 {
		t.Errorf("busy %v total %v err %v, want 1.5, 10", busy, total, err)
	}
	if _, _, err := parseCPULine("cpu0 1 2 3 4"); err == nil {
		t.Error("a per-CPU line was taken for the aggregate")
	}
}

func TestCPUSnapshotReadsTheMachine(t *testing.T) {
	s, err := takeCPUSnapshot()
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if s.total <= 0 || s.busy <= 0 || s.busy > s.total {
		t.Errorf("machine busy %v of %v", s.busy, s.total)
	}
}
