package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/tenantwire/tenantwire/internal/childcache"
)

// SetLogger logs errors only, or everything with TEST_VERBOSE set.
func SetLogger() {
	level := zapcore.ErrorLevel
	if os.Getenv("TEST_VERBOSE") != "" {
		level = zapcore.DebugLevel
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr), zap.Level(level)))
}

// Manager is a controller manager configured like production (same cache filters) but without a
// metrics server, plus a direct client for the test's own reads and writes.
type Manager struct {
	ctrl.Manager
	// Direct reads and writes the API server without a cache.
	Direct client.Client
	// Children watches the child kinds the controllers do not cache, as in production.
	Children *childcache.Watches
	cancel   context.CancelFunc
	done     chan error
}

// NewManager builds the manager; register controllers on it, then call Run.
func (e *Env) NewManager(scheme *runtime.Scheme) (*Manager, error) {
	return e.newManager(scheme, e.Config)
}

// NewManagerAs builds a manager whose controllers act as user, impersonated, so that they hold
// only what RBAC grants that user (a ServiceAccount user also gets the ServiceAccount groups);
// Direct stays the test's admin client.
func (e *Env) NewManagerAs(scheme *runtime.Scheme, user string) (*Manager, error) {
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	return e.newManager(scheme, cfg)
}

func (e *Env) newManager(scheme *runtime.Scheme, cfg *rest.Config) (*Manager, error) {
	direct, err := client.New(e.Config, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:    scheme,
		Cache:     childcache.Options(),
		NewClient: childcache.NewClient,
		Metrics:   metricsserver.Options{BindAddress: "0"},
		// A test may run several managers in one process, one after the other (a restart) or
		// against several API servers; controller names are unique per manager only.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, err
	}
	children, err := childcache.NewWatches(cfg, mgr.GetHTTPClient(), scheme, mgr.GetRESTMapper())
	if err != nil {
		return nil, err
	}
	return &Manager{Manager: mgr, Direct: direct, Children: children}, nil
}

// Run starts the manager in the background and waits for its cache.
func (m *Manager) Run() error {
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel, m.done = cancel, make(chan error, 1)
	go func() { m.done <- m.Start(ctx) }()
	if !m.GetCache().WaitForCacheSync(ctx) {
		cancel()
		return errors.New("cache did not sync")
	}
	return nil
}

// Stop stops the manager and waits for it; stopping it again does nothing.
func (m *Manager) Stop() {
	if m.cancel != nil {
		m.cancel()
		m.cancel = nil
		if err := <-m.done; err != nil {
			fmt.Fprintln(os.Stderr, "manager stopped with:", err)
		}
	}
}
