// Package testenv starts a real kube-apiserver and etcd (built from source by hack/tools.sh) for
// envtest suites, with the tenantwire CRDs installed.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// RepoRoot is the repository root, found from this file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// assets returns KUBEBUILDER_ASSETS, building the toolchain when it is not set so that a plain
// `go test ./...` works on a fresh machine too (slowly, the first time).
func assets() (string, error) {
	if a := os.Getenv("KUBEBUILDER_ASSETS"); a != "" {
		return a, nil
	}
	cmd := exec.Command(filepath.Join(RepoRoot(), "hack", "tools.sh"), "envtest")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("building envtest assets with hack/tools.sh: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Env is a running API server with our CRDs.
type Env struct {
	*envtest.Environment
	Config *rest.Config
}

// Options say how to start the API server besides installing our CRDs.
type Options struct {
	// CRDDirs are CRD directories or files installed besides config/crd/bases.
	CRDDirs []string
	// AdmissionPlugins are enabled on top of the API server's defaults, for example
	// OwnerReferencesPermissionEnforcement, which hardened clusters run and envtest does not.
	AdmissionPlugins []string
}

// Start launches the API server with the CRDs under config/crd/bases plus any extra CRD directories.
func Start(extraCRDDirs ...string) (*Env, error) {
	return StartWith(Options{CRDDirs: extraCRDDirs})
}

// StartWith launches the API server as the options say.
func StartWith(o Options) (*Env, error) {
	a, err := assets()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: a,
		CRDDirectoryPaths:     append([]string{filepath.Join(RepoRoot(), "config", "crd", "bases")}, o.CRDDirs...),
		ErrorIfCRDPathMissing: true,
	}
	if len(o.AdmissionPlugins) > 0 {
		env.ControlPlane.GetAPIServer().Configure().Set("enable-admission-plugins", strings.Join(o.AdmissionPlugins, ","))
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, err
	}
	return &Env{Environment: env, Config: cfg}, nil
}

// Eventually polls cond every 100ms until it returns nil, and fails the test with cond's last
// error when timeout passes.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// StartWithExternalSecrets starts the API server with our CRDs and the External Secrets Operator's
// (no ESO controller runs).
func StartWithExternalSecrets() (*Env, error) {
	crds, err := ExternalSecretsCRDs()
	if err != nil {
		return nil, err
	}
	return Start(crds)
}

// ExternalSecretsCRDs is the CRD bundle of the External Secrets Operator release in go.mod.
func ExternalSecretsCRDs() (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/external-secrets/external-secrets")
	cmd.Dir = RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locating the External Secrets Operator module: %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("the External Secrets Operator module is not downloaded; run go mod download")
	}
	return filepath.Join(dir, "deploy", "crds", "bundle.yaml"), nil
}
