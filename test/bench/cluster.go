package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// cluster is one simulated cluster for one run, with the operator binary built beside it.
type cluster struct {
	root, devDir, kubeconfig, kubectlBin string
	client                               client.Client
	manager                              *exec.Cmd
	metricsAddr                          string
}

const clusterName = "tenantwire-bench"

func startCluster(ctx context.Context, cfg config) (*cluster, error) {
	qps := cfg.QPS
	root := testenv.RepoRoot()
	devDir, err := os.MkdirTemp("", "tenantwire-bench-")
	if err != nil {
		return nil, err
	}
	c := &cluster{root: root, devDir: devDir}
	up := exec.CommandContext(ctx, filepath.Join(root, "hack", "dev-cluster.sh"), "up")
	// kwok nodes take 110 pods each; the floor and the operator each run one pod per integration.
	nodes := 2*cfg.Tenants*cfg.Integrations/100 + 2
	up.Env = append(os.Environ(), "DEV_DIR="+devDir, "CLUSTER_NAME="+clusterName, fmt.Sprintf("NODES=%d", nodes))
	up.Stderr = os.Stderr
	out, err := up.Output()
	if err != nil {
		return nil, fmt.Errorf("hack/dev-cluster.sh up: %w", err)
	}
	c.kubeconfig = strings.TrimSpace(string(out))
	kb, err := exec.Command(filepath.Join(root, "hack", "tools.sh"), "path", "kubectl").Output()
	if err != nil {
		return nil, err
	}
	c.kubectlBin = strings.TrimSpace(string(kb))
	rc, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = float32(qps), int(2*qps)
	if c.client, err = client.New(rc, client.Options{Scheme: twscheme.New()}); err != nil {
		return nil, err
	}
	for _, args := range [][]string{
		{"apply", "--server-side", "-f", filepath.Join(root, "config", "crd", "bases")},
		{"wait", "--for=condition=Established", "--timeout=60s", "-f", filepath.Join(root, "config", "crd", "bases")},
		{"apply", "--server-side", "-f", filepath.Join(root, "config", "rbac", "tenant_roles.yaml")},
	} {
		if _, err := c.kubectl(ctx, "", args...); err != nil {
			return nil, err
		}
	}
	if _, err := c.kubectl(ctx, benchStore, "apply", "--server-side", "-f", "-"); err != nil {
		return nil, err
	}
	return c, nil
}

// benchStore serves the same made-up credentials to every bench tenant (their path prefix is shared).
const benchStore = `apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata:
  name: bench-vault
spec:
  provider:
    fake:
      data:
      - key: tenants/bench/source
        value: '{"username":"bench","api_key":"bench-key"}'
      - key: tenants/bench/destination
        value: '{"client_id":"bench","client_secret":"bench-secret"}'
`

func (c *cluster) kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.kubectlBin, append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// startOperator builds and starts the operator with metrics on loopback.
func (c *cluster) startOperator(cfg config) error {
	bin := filepath.Join(c.devDir, "tenantwire")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir, build.Env = c.root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the operator: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	c.metricsAddr = l.Addr().String()
	_ = l.Close()
	logf, err := os.Create(filepath.Join(c.devDir, "manager.log"))
	if err != nil {
		return err
	}
	conc := fmt.Sprint(cfg.Concurrency)
	c.manager = exec.Command(bin, "manager", "--metrics-bind-address="+c.metricsAddr, "--metrics-secure=false",
		"--health-probe-bind-address=127.0.0.1:0", "--tenant-concurrency="+conc, "--integration-concurrency="+conc,
		fmt.Sprintf("--kube-api-qps=%g", cfg.QPS), fmt.Sprintf("--kube-api-burst=%d", int(2*cfg.QPS)), "--zap-log-level=error")
	c.manager.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	c.manager.Stdout, c.manager.Stderr = logf, logf
	return c.manager.Start()
}

func (c *cluster) stop() {
	if c.manager != nil && c.manager.Process != nil {
		_ = c.manager.Process.Signal(os.Interrupt)
		_ = c.manager.Wait()
	}
	down := exec.Command(filepath.Join(c.root, "hack", "dev-cluster.sh"), "down")
	down.Env = append(os.Environ(), "DEV_DIR="+c.devDir, "CLUSTER_NAME="+clusterName)
	_ = down.Run()
	_ = os.RemoveAll(c.devDir)
}
