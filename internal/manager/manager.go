// Package manager builds the controller manager: flags, cache, metrics server and controllers.
package manager

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/tenantwire/tenantwire/controllers/integration"
	"github.com/tenantwire/tenantwire/controllers/keypolicy"
	"github.com/tenantwire/tenantwire/controllers/tenant"
	"github.com/tenantwire/tenantwire/internal/childcache"
	"github.com/tenantwire/tenantwire/internal/hostpolicy"
	"github.com/tenantwire/tenantwire/internal/imagepolicy"
	"github.com/tenantwire/tenantwire/internal/metrics"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
	"github.com/tenantwire/tenantwire/internal/status"
)

// Options are the manager's command-line settings.
type Options struct {
	MetricsAddr            string
	SecureMetrics          bool
	MetricsCertDir         string
	ProbeAddr              string
	LeaderElection         bool
	LeaderElectionNS       string
	TenantConcurrency      int
	IntegrationConcurrency int
	KeyPolicyConcurrency   int
	SyncImage              string
	SyncImagePullSecrets   []string
	AllowedImages          imagepolicy.AllowList
	RequireApproval        bool
	QPS                    float64
	Burst                  int
	DNSNamespace           string
	DNSPodSelector         string
	ScraperNamespace       string
	ScraperPodSelector     string
	// OperatorNamespace and OperatorPodSelector locate the manager's own pods, which the sync
	// pods' NetworkPolicy admits to read the cycle summary.
	OperatorNamespace   string
	OperatorPodSelector string
	// APIServerEgress are <cidr>:<port> where the API server answers, which the sync pods of an
	// Integration whose vendor rotates refresh tokens may reach to write them back.
	APIServerEgress  []string
	EnableHTTP2      bool
	GracefulShutdown time.Duration
	PprofAddr        string
	StatusTiming     status.Timing
	Zap              zap.Options
	// Hosts is the platform's allowlist of vendor hosts, PostgreSQL hosts and egress networks.
	Hosts hostpolicy.Config
	// BAACoveredSystems are the destination systems the platform has a business associate
	// agreement for: the only ones protected health information may flow to.
	BAACovered integration.BAACoverage
}

// BindFlags registers the manager flags on fs.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8443", "Address of the metrics endpoint (\"0\" disables it).")
	fs.BoolVar(&o.SecureMetrics, "metrics-secure", true, "Serve metrics over HTTPS, authenticating and authorizing each scrape against the API server.")
	fs.StringVar(&o.MetricsCertDir, "metrics-cert-dir", "",
		"Directory holding the metrics endpoint's serving certificate as tls.crt and tls.key, reloaded when they change; empty: a self-signed certificate made at start-up, which scrapers cannot verify.")
	fs.StringVar(&o.ProbeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	fs.BoolVar(&o.LeaderElection, "leader-elect", false, "Elect a leader so that only one replica reconciles at a time.")
	fs.StringVar(&o.LeaderElectionNS, "leader-election-namespace", "", "Namespace of the leader election lease (default: the pod's namespace).")
	fs.IntVar(&o.TenantConcurrency, "tenant-concurrency", 4, "Tenants reconciled in parallel.")
	fs.IntVar(&o.IntegrationConcurrency, "integration-concurrency", 4, "Integrations reconciled in parallel.")
	fs.IntVar(&o.KeyPolicyConcurrency, "keypolicy-concurrency", 4, "Tenant keyrings reconciled in parallel.")
	fs.StringVar(&o.SyncImage, "sync-image", "tenantwire:dev", "Image of the sync workloads (the operator's own image) unless an Integration names one.")
	fs.Var(&secretNamesFlag{&o.SyncImagePullSecrets}, "sync-image-pull-secrets",
		"Comma-separated names of image pull Secrets the sync and export pods use (default: none). The operator does not create them: each must exist in every tenant namespace.")
	fs.Var(&allowListFlag{&o.AllowedImages}, "allowed-sync-image-prefixes", "Comma-separated image repositories an Integration's spec.image may use besides --sync-image (default: none). "+
		"Each entry is a registry (registry.example.com, localhost:5000) or a registry and repository path (registry.example.com/tenantwire) without tag or digest; "+
		"an image is allowed when its registry is the entry's and its repository is the entry's path or below it at a '/'. Docker Hub names are normalised (alpine is docker.io/library/alpine).")
	fs.Var(&hostsFlag{&o.Hosts.Hosts}, "allowed-hosts",
		"Hosts one system's URLs and token endpoints may use, as <system>=<pattern>[,<pattern>...]; repeatable; replaces that system's defaults (the vendor's documented API and token hosts; webhook: none). "+
			"A pattern is a host name, or *.<domain> for any host below that domain, with an optional :port (default 443).")
	fs.Var(&commaList{&o.Hosts.PostgresHosts}, "allowed-postgres-hosts",
		"Comma-separated host patterns a PostgreSQL mapping store's DSN may name, with an optional :port (default 5432); default: none.")
	fs.Var(&commaList{&o.Hosts.AllowedEgress}, "allowed-egress-cidrs",
		"Comma-separated CIDRs an Integration's egress may lie within although they overlap metadata or cluster addresses (default: none; 0.0.0.0/0, ::/0 and link-local are refused at apply time regardless).")
	fs.Var(&commaList{&o.Hosts.ClusterCIDRs}, "cluster-cidrs",
		"Comma-separated pod and service CIDRs of this cluster, which no Integration's egress may open (default: none; the operator cannot discover them portably).")
	fs.Var(&baaFlag{&o.BAACovered}, "baa-covered-systems",
		"Comma-separated destination systems (cerbo, quickbooks, zoho, gohighlevel, webhook) the platform has a business associate agreement for; "+
			"only these may receive an Integration's protected health information fields (dateOfBirth, sex, address). Default: none.")
	fs.BoolVar(&o.RequireApproval, "require-approval", true, "Run no Integration until an approver of its Tenant approves its exact flow with an IntegrationApproval. "+
		"Set false to upgrade without pausing existing Integrations: Tenants that name spec.approvers still require approval.")
	// controller-runtime gives each kind's client a rate limiter of its own when the config has
	// none, so these bound each kind, not the manager.
	fs.Float64Var(&o.QPS, "kube-api-qps", 50, "Sustained queries per second to the API server, for each kind of object (each kind's client keeps its own budget).")
	fs.IntVar(&o.Burst, "kube-api-burst", 100, "Burst of queries to the API server, for each kind of object.")
	fs.StringVar(&o.DNSNamespace, "dns-namespace", tenant.DefaultDNSTarget.Namespace, "Namespace of the cluster DNS that tenant pods may query.")
	fs.StringVar(&o.DNSPodSelector, "dns-pod-selector", "k8s-app=kube-dns", "Label selector (k=v[,k=v]) of the cluster DNS pods.")
	fs.StringVar(&o.ScraperNamespace, "sync-metrics-scraper-namespace", "",
		"Namespace whose pods may scrape the sync pods' metrics port (9090) through each tenant's NetworkPolicy; empty: none may.")
	fs.StringVar(&o.ScraperPodSelector, "sync-metrics-scraper-pod-selector", "",
		"Label selector (k=v[,k=v]) narrowing --sync-metrics-scraper-namespace to the scraper's pods; empty: every pod of that namespace.")
	fs.StringVar(&o.OperatorNamespace, "operator-namespace", "tenantwire-system",
		"Namespace the manager runs in: its pods there (--operator-pod-selector) are the only ones the sync pods admit to their health port, to read each cycle's summary.")
	fs.StringVar(&o.OperatorPodSelector, "operator-pod-selector", "app.kubernetes.io/name=tenantwire,app.kubernetes.io/component=manager",
		"Label selector (k=v[,k=v]) of the manager's pods.")
	fs.Var(&commaList{&o.APIServerEgress}, "api-server-egress",
		"Comma-separated <cidr>:<port> where the API server answers (its endpoints, as the network plugin sees them): the sync pods of an Integration "+
			"whose vendor rotates refresh tokens (QuickBooks, GoHighLevel) may reach them to write rotated tokens back. Default: none, and the tokens stay in the pods' stores.")
	fs.BoolVar(&o.EnableHTTP2, "enable-http2", false, "Serve metrics over HTTP/2 (off by default: CVE-2023-44487, CVE-2023-39325).")
	fs.DurationVar(&o.GracefulShutdown, "graceful-shutdown-timeout", 30*time.Second, "How long running reconciles may take to finish on shutdown.")
	fs.StringVar(&o.PprofAddr, "pprof-bind-address", "", "Address of the Go pprof endpoints (/debug/pprof); empty disables them. Bind it to loopback: it is unauthenticated.")
	fs.DurationVar(&o.StatusTiming.SettleDelay, "status-settle-delay", status.DefaultTiming.SettleDelay,
		"How long a Tenant's or Integration's status that only reports further progress must hold still before it is written; Ready, failures and new generations are written at once.")
	fs.DurationVar(&o.StatusTiming.MinInterval, "status-min-interval", status.DefaultTiming.MinInterval,
		"Least time between two status writes of one object that only report further progress, and the longest such a write waits while further steps keep coming; once an object has had one such write, it and the settle delay are 16 times as long for its later ones, until one that is not progress.")
	o.Zap.BindFlags(fs)
}

// ParseDNSTarget turns the DNS flags into a DNSTarget.
func (o *Options) ParseDNSTarget() (tenant.DNSTarget, error) {
	sel, err := parseSelector("dns-pod-selector", o.DNSPodSelector)
	if err != nil {
		return tenant.DNSTarget{}, err
	}
	return tenant.DNSTarget{Namespace: o.DNSNamespace, PodSelector: sel}, nil
}

// ParseMetricsScraper turns the scraper flags into the peer tenant namespaces admit to the sync
// pods' metrics port; nil when no scraper namespace is set.
func (o *Options) ParseMetricsScraper() (*tenant.MetricsScraper, error) {
	if o.ScraperNamespace == "" {
		if o.ScraperPodSelector != "" {
			return nil, errors.New("--sync-metrics-scraper-pod-selector needs --sync-metrics-scraper-namespace")
		}
		return nil, nil
	}
	if errs := validation.IsDNS1123Label(o.ScraperNamespace); len(errs) > 0 {
		return nil, fmt.Errorf("--sync-metrics-scraper-namespace: %q is not a namespace name: %s", o.ScraperNamespace, strings.Join(errs, "; "))
	}
	s := &tenant.MetricsScraper{Namespace: o.ScraperNamespace}
	if o.ScraperPodSelector != "" {
		sel, err := parseSelector("sync-metrics-scraper-pod-selector", o.ScraperPodSelector)
		if err != nil {
			return nil, err
		}
		s.PodSelector = sel
	}
	return s, nil
}

// checkMetricsCert refuses to start when --metrics-cert-dir lacks the certificate or key:
// controller-runtime would fall back to a self-signed certificate without a word, and scrapers
// that verify would fail instead of the manager.
func checkMetricsCert(dir string) error {
	if dir == "" {
		return nil
	}
	for _, f := range []string{"tls.crt", "tls.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("--metrics-cert-dir: %w", err)
		}
	}
	return nil
}

// ParseOperatorPeer turns the operator flags into the peer the sync pods admit.
func (o *Options) ParseOperatorPeer() (integration.OperatorPeer, error) {
	sel, err := parseSelector("operator-pod-selector", o.OperatorPodSelector)
	return integration.OperatorPeer{Namespace: o.OperatorNamespace, PodSelector: sel}, err
}

// parseSelector parses a k=v[,k=v] label selector flag.
func parseSelector(flagName, value string) (map[string]string, error) {
	sel := map[string]string{}
	for _, kv := range strings.Split(value, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--%s: %q is not key=value", flagName, kv)
		}
		sel[k] = v
	}
	return sel, nil
}

// New builds a manager with every controller registered.
func New(o Options) (ctrl.Manager, error) {
	restCfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, err
	}
	restCfg.QPS, restCfg.Burst = float32(o.QPS), o.Burst
	dns, err := o.ParseDNSTarget()
	if err != nil {
		return nil, err
	}
	scraper, err := o.ParseMetricsScraper()
	if err != nil {
		return nil, err
	}
	if err := checkMetricsCert(o.MetricsCertDir); err != nil {
		return nil, err
	}
	operator, err := o.ParseOperatorPeer()
	if err != nil {
		return nil, err
	}
	hosts, err := hostpolicy.New(o.Hosts)
	if err != nil {
		return nil, err
	}

	var tlsOpts []func(*tls.Config)
	if !o.EnableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	tlsOpts = append(tlsOpts, func(c *tls.Config) { c.MinVersion = tls.VersionTLS12 })
	metricsOpts := metricsserver.Options{BindAddress: o.MetricsAddr, SecureServing: o.SecureMetrics, TLSOpts: tlsOpts, CertDir: o.MetricsCertDir}
	if o.SecureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	scheme := twscheme.New()
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         childcache.Options(),
		NewClient:                     childcache.NewClient,
		MapperProvider:                newMappingMemo,
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        o.ProbeAddr,
		LeaderElection:                o.LeaderElection,
		LeaderElectionID:              "tenantwire.io",
		LeaderElectionNamespace:       o.LeaderElectionNS,
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       &o.GracefulShutdown,
		PprofBindAddress:              o.PprofAddr,
		// The option is deprecated for managers that stop before their process does, whose
		// broadcaster would leak; this manager lives as long as the process.
		EventBroadcaster: newEventBroadcaster(), //nolint:staticcheck // see above
	})
	if err != nil {
		return nil, err
	}
	children, err := childcache.NewWatches(restCfg, mgr.GetHTTPClient(), scheme, mgr.GetRESTMapper())
	if err != nil {
		return nil, err
	}
	ctrlmetrics.Registry.MustRegister(metrics.ObjectCollector{Reader: mgr.GetClient(), Clock: clock.RealClock{}})
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, err
	}

	tr := &tenant.Reconciler{
		Client:          mgr.GetClient(),
		APIReader:       mgr.GetAPIReader(),
		Scheme:          scheme,
		Recorder:        mgr.GetEventRecorderFor("tenantwire-" + tenant.ControllerName),
		Clock:           clock.RealClock{},
		DNS:             dns,
		MetricsScraper:  scraper,
		Children:        children,
		StatusCoalescer: status.NewCoalescer(clock.RealClock{}, o.StatusTiming),
	}
	if err := tr.SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: o.TenantConcurrency}); err != nil {
		return nil, err
	}
	apiServer, err := integration.ParseAPIServerEgress(o.APIServerEgress)
	if err != nil {
		return nil, err
	}
	ir := &integration.Reconciler{
		Client:               mgr.GetClient(),
		APIReader:            mgr.GetAPIReader(),
		Scheme:               scheme,
		RESTMapper:           mgr.GetRESTMapper(),
		Recorder:             mgr.GetEventRecorderFor("tenantwire-" + integration.ControllerName),
		Clock:                clock.RealClock{},
		SyncImage:            o.SyncImage,
		SyncImagePullSecrets: o.SyncImagePullSecrets,
		AllowedImages:        o.AllowedImages,
		HostPolicy:           &hosts,
		BAACovered:           o.BAACovered,
		RequireApproval:      o.RequireApproval,
		StatusCoalescer:      status.NewCoalescer(clock.RealClock{}, o.StatusTiming),
		Children:             children,
		Cycles:               &integration.PodCycleReader{Reader: mgr.GetAPIReader()},
		Operator:             operator,
		APIServer:            apiServer,
	}
	if err := ir.SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: o.IntegrationConcurrency}); err != nil {
		return nil, err
	}
	kr := &keypolicy.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Scheme:    scheme,
		Recorder:  mgr.GetEventRecorderFor("tenantwire-" + keypolicy.ControllerName),
		Clock:     clock.RealClock{},
		Children:  children,
	}
	if err := kr.SetupWithManager(mgr, controller.Options{MaxConcurrentReconciles: o.KeyPolicyConcurrency}); err != nil {
		return nil, err
	}
	return mgr, nil
}

// eventDedupObjects is how many objects' recent events the event correlator remembers to merge
// repeats into a count and rate-limit a noisy object. client-go's default of 4096 (in each of its
// three caches) held 7.5 MiB at 1000 tenants, a tenth of the heap, for events that are mostly one
// per object and transition; a Warning an object repeats on every retry is still merged as long as
// fewer than this many other objects emitted events in between.
const eventDedupObjects = 512

// commaList is a comma-separated flag value.
type commaList struct{ values *[]string }

func (p *commaList) String() string {
	if p.values == nil {
		return ""
	}
	return strings.Join(*p.values, ",")
}

func (p *commaList) Set(v string) error {
	*p.values = splitList(v)
	return nil
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func newEventBroadcaster() record.EventBroadcaster {
	return record.NewBroadcaster(record.WithCorrelatorOptions(record.CorrelatorOptions{LRUCacheSize: eventDedupObjects}))
}

// secretNamesFlag is the comma-separated --sync-image-pull-secrets. A name that is not a valid
// Secret name stops the manager at start-up rather than render pods that can never pull.
type secretNamesFlag struct{ names *[]string }

func (f *secretNamesFlag) String() string {
	if f.names == nil {
		return ""
	}
	return strings.Join(*f.names, ",")
}

func (f *secretNamesFlag) Set(v string) error {
	names := splitList(v)
	for _, n := range names {
		if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 {
			return fmt.Errorf("%q is not a Secret name: %s", n, strings.Join(errs, "; "))
		}
	}
	*f.names = names
	return nil
}

// allowListFlag is the comma-separated --allowed-sync-image-prefixes. An entry that does not parse
// fails the flag, so the manager refuses to start rather than allow less (or more) than was meant.
type allowListFlag struct{ list *imagepolicy.AllowList }

func (f *allowListFlag) String() string {
	if f.list == nil {
		return ""
	}
	return f.list.String()
}

func (f *allowListFlag) Set(v string) error {
	list, err := imagepolicy.ParseAllowList(splitList(v))
	if err != nil {
		return err
	}
	*f.list = list
	return nil
}

// hostsFlag reads repeated <system>=<pattern>[,<pattern>...] values; naming a system replaces its
// defaults, and "<system>=" leaves it none. Patterns are checked by hostpolicy.New at start-up.
type hostsFlag struct{ hosts *map[string][]string }

func (h *hostsFlag) String() string {
	if h.hosts == nil {
		return ""
	}
	var parts []string
	for system, patterns := range *h.hosts {
		parts = append(parts, system+"="+strings.Join(patterns, ","))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func (h *hostsFlag) Set(v string) error {
	system, patterns, ok := strings.Cut(v, "=")
	if system = strings.TrimSpace(system); !ok || system == "" {
		return fmt.Errorf("%q is not <system>=<pattern>[,<pattern>...]", v)
	}
	if *h.hosts == nil {
		*h.hosts = map[string][]string{}
	}
	list := (*h.hosts)[system]
	if list == nil {
		list = []string{}
	}
	(*h.hosts)[system] = append(list, splitList(patterns)...)
	return nil
}

// baaFlag is the comma-separated --baa-covered-systems. An unknown system fails the flag, so the
// manager refuses to start rather than cover other systems than were meant.
type baaFlag struct{ coverage *integration.BAACoverage }

func (f *baaFlag) String() string {
	if f.coverage == nil {
		return ""
	}
	return f.coverage.String()
}

func (f *baaFlag) Set(v string) error {
	c, err := integration.ParseBAACoverage(splitList(v))
	if err != nil {
		return err
	}
	*f.coverage = c
	return nil
}
