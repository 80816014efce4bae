package devsync

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Cycle is what the runtime logged at the end of one sync cycle.
type Cycle struct {
	Created, Updated, Rejected, Pages int
	// Error is the cycle's error when it failed.
	Error string
}

// cycleLog writes the runtime's output to its log files and collects the cycles it reports.
type cycleLog struct {
	plain, pod *os.File

	mu     sync.Mutex
	cycles []Cycle
	// last is the runtime's last line, for when it exits.
	last string
	// grew is closed and replaced whenever a cycle or an error is added.
	grew chan struct{}
}

func openCycleLog(plainPath, podPath string) (*cycleLog, error) {
	l := &cycleLog{grew: make(chan struct{})}
	var err error
	if l.plain, err = os.Create(plainPath); err != nil {
		return nil, err
	}
	if l.pod, err = os.Create(podPath); err != nil {
		_ = l.plain.Close()
		return nil, err
	}
	return l, nil
}

// follow copies the runtime's output line by line until it ends.
func (l *cycleLog) follow(r io.ReadCloser) {
	defer func() { _ = r.Close() }()
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64*1024), 1024*1024)
	for s.Scan() {
		line := s.Text()
		_, _ = fmt.Fprintln(l.plain, line)
		// The CRI log format that kubelets, and kwok, serve as a container's log.
		_, _ = fmt.Fprintf(l.pod, "%s stdout F %s\n", time.Now().UTC().Format(time.RFC3339Nano), line)
		l.record(line)
	}
}

func (l *cycleLog) record(line string) {
	var entry struct {
		Msg, Error                        string
		Created, Updated, Rejected, Pages int
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = line
	if json.Unmarshal([]byte(line), &entry) != nil {
		return
	}
	switch {
	case entry.Msg == "sync cycle finished":
		l.cycles = append(l.cycles, Cycle{Created: entry.Created, Updated: entry.Updated, Rejected: entry.Rejected, Pages: entry.Pages})
	case strings.HasPrefix(entry.Msg, "sync cycle failed"):
		l.cycles = append(l.cycles, Cycle{Created: entry.Created, Updated: entry.Updated, Rejected: entry.Rejected, Pages: entry.Pages, Error: entry.Error})
	default:
		return
	}
	close(l.grew)
	l.grew = make(chan struct{})
}

// wait returns the n-th cycle once it is logged; exited ends the wait when the runtime stops.
func (l *cycleLog) wait(ctx context.Context, n int, exited <-chan struct{}) (Cycle, error) {
	for stopped := false; ; {
		l.mu.Lock()
		grew, last := l.grew, l.last
		if n < len(l.cycles) {
			c := l.cycles[n]
			l.mu.Unlock()
			if c.Error != "" {
				return c, errors.New("sync cycle failed: " + c.Error)
			}
			return c, nil
		}
		l.mu.Unlock()
		if stopped {
			return Cycle{}, fmt.Errorf("the sync runtime exited before cycle %d: %s", n+1, last)
		}
		select {
		case <-grew:
		case <-exited:
			// Its output is all recorded by now: look once more.
			stopped = true
		case <-ctx.Done():
			return Cycle{}, fmt.Errorf("waiting for sync cycle %d: %w", n+1, ctx.Err())
		}
	}
}

func (l *cycleLog) close() {
	_ = l.plain.Close()
	_ = l.pod.Close()
}
