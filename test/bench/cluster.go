package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// cluster is one simulated cluster for one run, with the operator beside it.
type cluster struct {
	*testenv.SimCluster
	client client.Client
	// floorClient is the operator's identity (its ServiceAccount): the admission policies of
	// config/admission let no one else create what the floor creates in tenant namespaces.
	floorClient client.Client
	restConfig  *rest.Config
	manager     *exec.Cmd
	// exited is closed when the manager has exited, and exitErr then says why.
	exited  chan struct{}
	exitErr error
	// cgroup is the memory cgroup the manager runs in (nil: none).
	cgroup *memCgroup
	// cpuCgroup is the cpu cgroup the manager runs in (nil: none).
	cpuCgroup   *cpuCgroup
	metricsAddr string
	pprofAddr   string
	// esoMetricsAddr serves the External Secrets Operator's metrics.
	esoMetricsAddr string
}

func startCluster(ctx context.Context, cfg config) (*cluster, error) {
	// kwok nodes take 110 pods each; the floor and the operator each run one pod per integration.
	nodes := 2*cfg.Tenants*cfg.Integrations/100 + 2
	esoMetrics, err := testenv.FreeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	sc, err := testenv.StartSimCluster(ctx, "tenantwire-bench", fmt.Sprintf("NODES=%d", nodes), "ESO_METRICS_ADDR="+esoMetrics)
	if err != nil {
		return nil, err
	}
	c := &cluster{SimCluster: sc, esoMetricsAddr: esoMetrics}
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = float32(cfg.QPS), int(2*cfg.QPS)
	c.restConfig = rc
	if c.client, err = client.New(rc, client.Options{Scheme: twscheme.New()}); err != nil {
		return nil, err
	}
	frc, err := clientcmd.BuildConfigFromFlags("", c.ManagerKubeconfig)
	if err != nil {
		return nil, err
	}
	frc.QPS, frc.Burst = rc.QPS, rc.Burst
	if c.floorClient, err = client.New(frc, client.Options{Scheme: twscheme.New()}); err != nil {
		return nil, err
	}
	if _, err := c.Kubectl(ctx, benchStore(cfg.Tenants), "apply", "--server-side", "-f", "-"); err != nil {
		return nil, err
	}
	return c, nil
}

// benchStore serves the same made-up credentials to every floor and bench tenant, each under its
// own path prefix.
func benchStore(tenants int) string {
	var b strings.Builder
	b.WriteString(`apiVersion: external-secrets.io/v1
kind: ClusterSecretStore
metadata:
  name: bench-vault
spec:
  provider:
    fake:
      data:
`)
	for _, phase := range []string{"floor", "bench"} {
		for i := range tenants {
			prefix := benchPathPrefix(benchTenantName(phase, i))
			fmt.Fprintf(&b, "      - key: %ssource\n        value: '{\"username\":\"bench\",\"api_key\":\"bench-key\"}'\n", prefix)
			fmt.Fprintf(&b, "      - key: %sdestination\n        value: '{\"client_id\":\"bench\",\"client_secret\":\"bench-secret\"}'\n", prefix)
		}
	}
	return b.String()
}

func (c *cluster) stop() {
	if c.exited != nil {
		_ = c.manager.Process.Signal(os.Interrupt)
		<-c.exited
	}
	if c.cgroup != nil {
		if err := c.cgroup.remove(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		}
	}
	if c.cpuCgroup != nil {
		if err := c.cpuCgroup.remove(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		}
	}
	c.Stop()
}
