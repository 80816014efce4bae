package devsync

import (
	"os"
	"os/exec"
	"syscall"
	"time"
)

// stopGrace is how long the runtime gets to finish its record after SIGTERM; hack/dev-cluster.sh
// down gives synclocal 5 s before SIGKILL, which would leave the runtime running.
const stopGrace = 4 * time.Second

// process is one run of the runtime; done is closed when it has exited.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startProcess runs bin with its output going to log.
func startProcess(bin string, args, env []string, log *cycleLog) (*process, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	_ = w.Close()
	if err != nil {
		_ = r.Close()
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		log.follow(r)
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM, and SIGKILL after stopGrace.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
