// Package e2e runs the operator binary against the simulated cluster (kwok with a real apiserver,
// etcd, controller-manager and scheduler, and the real External Secrets Operator controller) and
// drives it the way users do: kubectl apply of the samples.
package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/testenv"
)

// cluster is the simulated cluster the suite runs against, shared by all tests.
type cluster struct {
	*testenv.SimCluster
	managerBin string
	manager    *exec.Cmd
	managerLog *os.File
	// metricsAddr serves the operator's metrics over plain HTTP on loopback for the tests.
	metricsAddr string
}

var sim *cluster

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("E2E_SKIP") != "" {
		fmt.Println("E2E_SKIP is set: not starting the simulated cluster")
		return 0
	}
	c, err := startCluster()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the simulated cluster:", err)
		return 1
	}
	sim = c
	defer c.stop()
	return m.Run()
}

func startCluster() (*cluster, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	sc, err := testenv.StartSimCluster(ctx, "tenantwire-e2e")
	if err != nil {
		return nil, err
	}
	c := &cluster{SimCluster: sc}
	if err := c.startManager(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *cluster) startManager() error {
	bin, err := c.BuildOperator()
	if err != nil {
		return err
	}
	c.managerBin = bin
	if c.managerLog, err = os.Create(filepath.Join(c.DevDir, "manager.log")); err != nil {
		return err
	}
	return c.runManager()
}

// runManager starts the operator process (again) with the same log and a fresh metrics port.
func (c *cluster) runManager() error {
	addr, err := testenv.FreeLoopbackAddr()
	if err != nil {
		return err
	}
	c.metricsAddr = addr
	// The e2e Integrations run without an approval, except those of a Tenant that names approvers
	// (TestApproval); approval is also proven in test/approval and the Integration controller's envtest.
	c.manager = exec.Command(c.managerBin, "manager", "--metrics-bind-address="+c.metricsAddr, "--metrics-secure=false",
		"--health-probe-bind-address=127.0.0.1:0", "--require-approval=false",
		// A webhook receiver the platform lists; PHI may not go to it, as no system is BAA-covered.
		"--allowed-hosts=webhook="+e2eWebhookHost)
	// As the operator's ServiceAccount: the admission policies let it, and only it, write in tenant namespaces.
	c.manager.Env = append(os.Environ(), "KUBECONFIG="+c.ManagerKubeconfig)
	c.manager.Stdout, c.manager.Stderr = c.managerLog, c.managerLog
	return c.manager.Start()
}

// killManager ends the operator abruptly (SIGKILL), as a node failure or OOM kill would.
func (c *cluster) killManager() {
	if c.manager != nil && c.manager.Process != nil {
		_ = c.manager.Process.Kill()
		_ = c.manager.Wait()
	}
}

// metric sums the samples of one metric family whose label set contains every given fragment.
func (c *cluster) metric(t *testing.T, name string, labelFragments ...string) float64 {
	t.Helper()
	var body []byte
	testenv.Eventually(t, 30*time.Second, func() error {
		resp, err := http.Get("http://" + c.metricsAddr + "/metrics")
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		body, err = io.ReadAll(resp.Body)
		return err
	})
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		match := true
		for _, f := range labelFragments {
			if !strings.Contains(line, f) {
				match = false
			}
		}
		if !match {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// mutatingRequests is the operator's count of write requests to the API server so far.
func (c *cluster) mutatingRequests(t *testing.T) float64 {
	t.Helper()
	var n float64
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		n += c.metric(t, "rest_client_requests_total", `method="`+m+`"`)
	}
	return n
}

// kubectlIn runs kubectl with input on stdin.
func (c *cluster) kubectlIn(input string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return c.Kubectl(ctx, input, args...)
}

func (c *cluster) stop() {
	if c.manager != nil && c.manager.Process != nil {
		_ = c.manager.Process.Signal(os.Interrupt)
		_ = c.manager.Wait()
	}
	if os.Getenv("E2E_KEEP") != "" {
		fmt.Printf("E2E_KEEP: cluster left running; KUBECONFIG=%s\n", c.Kubeconfig)
		return
	}
	c.Stop()
}

// kubectl runs kubectl against the simulated cluster and returns its stdout.
func (c *cluster) kubectl(args ...string) (string, error) { return c.kubectlIn("", args...) }

// mustKubectl is kubectl that fails the test on error.
func (c *cluster) mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.kubectl(args...)
	if err != nil {
		t.Fatalf("%v\noperator log:\n%s", err, c.managerLogTail())
	}
	return out
}

// waitReady waits for the Ready condition of one object (kind/name plus kubectl flags). A timeout
// shows the object's conditions, which say where it stopped (the operator logs errors only).
func (c *cluster) waitReady(t *testing.T, object string, flags ...string) {
	t.Helper()
	if _, err := c.kubectl(append([]string{"wait", "--for=condition=Ready", "--timeout=90s", object}, flags...)...); err != nil {
		conds, cerr := c.kubectl(append([]string{"get", object, "-o",
			`jsonpath={range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}`}, flags...)...)
		if cerr != nil {
			conds = cerr.Error()
		}
		t.Fatalf("%v\n%s conditions:\n%s\noperator log:\n%s", err, object, conds, c.managerLogTail())
	}
}

// managerLogTail returns the end of the operator's log for failure messages.
func (c *cluster) managerLogTail() string {
	b, _ := os.ReadFile(filepath.Join(c.DevDir, "manager.log"))
	lines := strings.Split(string(b), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
