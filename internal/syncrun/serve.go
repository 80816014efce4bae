package syncrun

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tenantwire/tenantwire/internal/cyclereport"
)

// Health is what /healthz and /readyz answer. Not ready carries a reason for the probe's output and
// the logs; it never holds secret values or IDs.
type Health struct {
	mu       sync.Mutex
	notReady string
	metrics  *Metrics
	// cycle, when set, serves the last cycle's summary to the operator (cyclereport.Path).
	cycle http.Handler
}

// NewHealth starts not ready: nothing has been checked yet.
func NewHealth(m *Metrics) *Health {
	return &Health{notReady: "starting", metrics: m}
}

// SetReady marks the runtime ready.
func (h *Health) SetReady() { h.set("") }

// SetNotReady marks the runtime not ready for a reason.
func (h *Health) SetNotReady(reason string) { h.set(reason) }

func (h *Health) set(reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.notReady = reason
	if reason == "" {
		h.metrics.Ready.Set(1)
	} else {
		h.metrics.Ready.Set(0)
	}
}

// Reason is empty when ready.
func (h *Health) Reason() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.notReady
}

func (h *Health) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if reason := h.Reason(); reason != "" {
			http.Error(w, "not ready: "+reason, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	if h.cycle != nil {
		mux.Handle(cyclereport.Path, h.cycle)
	}
	return mux
}

// servers runs the health and metrics listeners until shutdown.
type servers struct{ list []*http.Server }

// serve binds both listeners before returning, so a port clash fails the start instead of
// leaving a pod that never answers its probes.
func serve(healthAddr, metricsAddr string, h *Health, m *Metrics, log logr.Logger) (*servers, error) {
	metricsMux := http.NewServeMux()
	metricsMux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	s := &servers{}
	for _, b := range []struct {
		addr    string
		handler http.Handler
	}{{healthAddr, h.handler()}, {metricsAddr, metricsMux}} {
		if b.addr == "" || b.addr == "0" {
			continue
		}
		ln, err := net.Listen("tcp", b.addr)
		if err != nil {
			s.shutdown()
			return nil, err
		}
		srv := &http.Server{Handler: b.handler, ReadHeaderTimeout: 5 * time.Second}
		s.list = append(s.list, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error(err, "serving stopped", "addr", ln.Addr().String())
			}
		}()
	}
	return s, nil
}

// serveWebhook receives pushed deliveries over TLS 1.2 or higher with the certificate and key of
// the source's credentials.
func (s *servers) serveWebhook(addr string, handler http.Handler, creds map[string][]byte, log logr.Logger) error {
	cert, err := tls.X509KeyPair(creds["tls.crt"], creds["tls.key"])
	if err != nil {
		return errors.New("webhook source: the source credentials need tls.crt and tls.key holding a certificate and its key")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}}
	s.list = append(s.list, srv)
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(err, "webhook serving stopped", "addr", ln.Addr().String())
		}
	}()
	return nil
}

func (s *servers) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range s.list {
		_ = srv.Shutdown(ctx)
	}
}
