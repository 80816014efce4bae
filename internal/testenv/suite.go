package testenv

import (
	"fmt"
	"os"
	"testing"

	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
)

// SuiteOptions say what an envtest suite needs besides our CRDs.
type SuiteOptions struct {
	// ExternalSecrets installs the External Secrets Operator CRDs (no ESO controller runs).
	ExternalSecrets bool
}

// RunSuite is the body of an envtest package's TestMain: it starts the API server, builds a
// manager, lets setup register controllers on it, runs it, runs the tests and tears down.
func RunSuite(m *testing.M, opts SuiteOptions, setup func(mgr *Manager) error) int {
	SetLogger()
	var extra []string
	if opts.ExternalSecrets {
		crds, err := ExternalSecretsCRDs()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		extra = append(extra, crds)
	}
	env, err := Start(extra...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	mgr, err := env.NewManager(twscheme.New())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := setup(mgr); err != nil {
		fmt.Fprintln(os.Stderr, "setting up controllers:", err)
		return 1
	}
	if err := mgr.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer mgr.Stop()
	return m.Run()
}
