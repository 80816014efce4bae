package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// SimCluster is a simulated cluster started by hack/dev-cluster.sh in a directory of its own, with
// the tenantwire CRDs, RBAC and admission policies installed. The end-to-end suite and the scale
// benchmark run against it.
type SimCluster struct {
	Root, DevDir, Name, Kubeconfig, KubectlBin string
	// ManagerKubeconfig authenticates as the operator's ServiceAccount (tenantwire-manager in
	// tenantwire-system), the identity the admission policies of config/admission let write in
	// tenant namespaces; the operator runs with it, as it does when installed.
	ManagerKubeconfig string
	// AuditLog is the API server's audit log (JSON lines), written under config/audit/policy.yaml.
	AuditLog string
}

// StartSimCluster starts the cluster called name; env adds settings for hack/dev-cluster.sh
// (for example "NODES=8"). A name of its own leaves a developer's `make run` cluster alone.
func StartSimCluster(ctx context.Context, name string, env ...string) (*SimCluster, error) {
	root := RepoRoot()
	devDir, err := os.MkdirTemp("", name+"-")
	if err != nil {
		return nil, err
	}
	s := &SimCluster{Root: root, DevDir: devDir, Name: name}
	up := exec.CommandContext(ctx, filepath.Join(root, "hack", "dev-cluster.sh"), "up")
	up.Env = append(append(os.Environ(), "DEV_DIR="+devDir, "CLUSTER_NAME="+name), env...)
	up.Stderr = os.Stderr
	out, err := up.Output()
	if err != nil {
		return nil, fmt.Errorf("hack/dev-cluster.sh up: %w", err)
	}
	s.Kubeconfig = strings.TrimSpace(string(out))
	for _, p := range []struct {
		command string
		path    *string
	}{{"audit-log", &s.AuditLog}, {"manager-kubeconfig", &s.ManagerKubeconfig}} {
		cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "dev-cluster.sh"), p.command)
		cmd.Env = up.Env
		if out, err = cmd.Output(); err != nil {
			return nil, fmt.Errorf("hack/dev-cluster.sh %s: %w", p.command, err)
		}
		*p.path = strings.TrimSpace(string(out))
	}
	kb, err := exec.CommandContext(ctx, filepath.Join(root, "hack", "tools.sh"), "path", "kubectl").Output()
	if err != nil {
		return nil, err
	}
	s.KubectlBin = strings.TrimSpace(string(kb))
	crds := filepath.Join(root, "config", "crd", "bases")
	for _, args := range [][]string{
		{"apply", "--server-side", "-f", crds},
		{"wait", "--for=condition=Established", "--timeout=60s", "-f", crds},
	} {
		if _, err := s.Kubectl(ctx, "", args...); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Kubectl runs kubectl against the cluster with stdin as input and returns its stdout.
func (s *SimCluster) Kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.KubectlBin, append([]string{"--kubeconfig", s.Kubeconfig}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// BuildOperator builds the operator binary into the cluster's directory and returns its path.
func (s *SimCluster) BuildOperator() (string, error) {
	bin := filepath.Join(s.DevDir, "tenantwire")
	// Built as the image builds it (Dockerfile), so what the benchmark measures is what ships.
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	build.Dir, build.Env = s.Root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the operator: %v\n%s", err, out)
	}
	return bin, nil
}

// Stop deletes the cluster and its directory.
func (s *SimCluster) Stop() {
	down := exec.Command(filepath.Join(s.Root, "hack", "dev-cluster.sh"), "down")
	down.Env = append(os.Environ(), "DEV_DIR="+s.DevDir, "CLUSTER_NAME="+s.Name)
	_ = down.Run()
	_ = os.RemoveAll(s.DevDir)
}

// FreeLoopbackAddr returns a loopback address with a port nothing listens on right now.
func FreeLoopbackAddr() (string, error) {
	addrs, err := FreeLoopbackAddrs(1)
	if err != nil {
		return "", err
	}
	return addrs[0], nil
}

// FreeLoopbackAddrs returns n distinct loopback addresses with ports nothing listens on right now.
// Each port stays bound until all are chosen: one port closed and asked for again may be handed
// out again (two sync runtime servers got the same port that way, and the second failed to bind).
func FreeLoopbackAddrs(n int) ([]string, error) {
	addrs := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer func() { _ = l.Close() }()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}
