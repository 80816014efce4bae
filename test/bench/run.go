package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/controllers/integration"
	"github.com/tenantwire/tenantwire/controllers/keypolicy"
	"github.com/tenantwire/tenantwire/controllers/tenant"
	"github.com/tenantwire/tenantwire/internal/keyring"
)

type config struct {
	Tenants, Integrations, Concurrency int
	QPS                                float64
	Steady                             time.Duration
	// ProfileDir, when set, receives the operator's CPU profiles of the operator phase and its heap
	// profile when everything is Ready.
	ProfileDir string
	// MemoryLimit is the container memory limit the operator runs under (empty: none), as given and
	// in bytes.
	MemoryLimit      string
	MemoryLimitBytes int64
	// CPULimit is the container CPU limit the operator runs under (empty: none), as given and in
	// thousandths of a CPU.
	CPULimit       string
	CPULimitMillis int64
	// OperatorArgs are extra manager flags.
	OperatorArgs []string
	// SkipFloor leaves the floor phase out: for iterating on the operator's writes and memory,
	// which do not depend on it. The time ratio is then not measured.
	SkipFloor bool
	// SharedCluster runs the operator phase on the floor's cluster, with the floor's objects
	// still in it (every run recorded before this option); by default each phase has a cluster of
	// its own.
	SharedCluster bool
}

type result struct {
	config
	FloorObjects     int
	FloorTime        time.Duration
	OperatorTime     time.Duration
	MutatingRequests float64
	MinimumWrites    int
	PeakRSSMiB       float64
	PeakHeapMiB      float64
	PeakAnonMiB      float64
	PeakFileMiB      float64
	ReconcileP50     time.Duration
	ReconcileP99     time.Duration
	SteadyWrites     float64
	SettleWrites     float64
	ApplyRequests    float64
	// What ESO did in each phase, and after each until its queue was empty.
	FloorESO, OperatorESO           esoPhase
	FloorESODrain, OperatorESODrain esoDrain
	// Where the machine's CPU went in each phase, by process.
	FloorCPU, OperatorCPU cpuUse
	// The writes broken down: applies and status writes by kind, creates (events).
	AppliesByKind, StatusWritesByKind, StatusWritesByReason string
	// ReconcilesByController counts the reconciles of each controller (woken by an event, a
	// requeue or a retry), so a change in what wakes a controller shows as a figure.
	ReconcilesByController string
	// AuditWrites is the operator's writes by verb and resource, from the API server's audit log.
	AuditWrites string
	// AuditReads is its gets and lists (uncached reads) by resource, from the same log.
	AuditReads string
	// Creates is the operator's POST requests: events, and each tenant's first keyring.
	Creates float64
	// Cgroup is what the operator's memory cgroup saw (Version 0: it ran in none).
	Cgroup cgroupStats
	// CPUThrottling is what the operator's cpu cgroup counted, over the operator's whole run.
	CPUThrottling cpuThrottling
	// GoMemLimitMiB is the Go memory limit the operator ran with, from its metrics (0: none).
	GoMemLimitMiB float64
}

// benchTenantName names the i-th tenant of a phase ("floor" or "bench").
func benchTenantName(prefix string, i int) string { return fmt.Sprintf("%s-%04d", prefix, i) }

// benchTenant is the i-th tenant of a phase. Each has a vault path of its own, as the operator
// refuses a Tenant whose path an earlier one holds.
func benchTenant(prefix string, i int) *twv1.Tenant {
	name := benchTenantName(prefix, i)
	return &twv1.Tenant{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: twv1.TenantSpec{
			DisplayName: fmt.Sprintf("Bench practice %d", i),
			Admins:      []twv1.Subject{{Kind: twv1.SubjectGroup, Name: fmt.Sprintf("oidc:bench-%d-admins", i)}},
			SecretStore: &twv1.TenantSecretStore{Kind: twv1.ClusterSecretStoreKind, Name: "bench-vault", PathPrefix: benchPathPrefix(name)},
		},
	}
}

// benchPathPrefix is a bench tenant's vault path.
func benchPathPrefix(tenant string) string { return "tenants/" + tenant + "/" }

func benchIntegration(ns string, j int) *twv1.Integration {
	systems := []twv1.System{twv1.SystemQuickBooks, twv1.SystemZoho, twv1.SystemGoHighLevel}
	// Each destination on its vendor's own host: the operator stalls any other (HostNotAllowed).
	urls := map[twv1.System]string{twv1.SystemQuickBooks: "https://quickbooks.api.intuit.com",
		twv1.SystemZoho: "https://www.zohoapis.com", twv1.SystemGoHighLevel: "https://services.leadconnectorhq.com"}
	system := systems[j%len(systems)]
	return &twv1.Integration{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("sync-%d", j), Labels: map[string]string{"tenantwire.io/uses-keyring": "true"}},
		Spec: twv1.IntegrationSpec{
			Source:      twv1.Endpoint{System: twv1.SystemCerbo, URL: "https://bench.md-hq.com/api/v1", Credentials: twv1.Credentials{RemoteKey: "source"}},
			Destination: twv1.Endpoint{System: system, URL: urls[system], Credentials: twv1.Credentials{RemoteKey: "destination"}},
			Egress:      []twv1.EgressRule{{CIDR: "203.0.113.0/24"}},
			// The simulated cluster has no storage provisioner: a claim would stay Pending.
			MappingStore: &twv1.MappingStore{SQLite: &twv1.SQLiteMappingStore{Ephemeral: true}},
		},
	}
}

var benchPolicy = &twv1.KeyPolicy{
	ObjectMeta: metav1.ObjectMeta{Name: "bench-default"},
	Spec: twv1.KeyPolicySpec{Default: true, Algorithm: twv1.AlgorithmAES256GCM,
		Source:    twv1.KeySource{Type: twv1.KeySourceGenerated},
		Rotation:  twv1.KeyRotation{Period: metav1.Duration{Duration: 2160 * time.Hour}, RetainVersions: 2},
		Consumers: &metav1.LabelSelector{MatchLabels: map[string]string{"tenantwire.io/uses-keyring": "true"}}},
}

// forEach runs fn for 0..n-1 on `workers` goroutines and returns the first error.
func forEach(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// renderTenant renders what the operator creates for tenant t and its integrations, with the
// controllers' own builders. configure, when set, adjusts each Integration before it is rendered.
func renderTenant(t *twv1.Tenant, integrations int, configure func(in *twv1.Integration, j int), credentialsHash, keyringVersion string) ([]client.Object, error) {
	objs := tenant.DesiredObjects(t, tenant.DefaultDNSTarget)
	kr := keyring.Rotate(nil, string(twv1.AlgorithmAES256GCM), keyring.Material{EncryptionKey: make([]byte, 32), HMACKey: make([]byte, 32)}, time.Now(), 2)
	var consumers []string
	for j := range integrations {
		consumers = append(consumers, fmt.Sprintf("sync-%d", j))
	}
	kobjs, err := keypolicy.DesiredObjects(t, benchPolicy, kr, consumers)
	if err != nil {
		return nil, err
	}
	objs = append(objs, kobjs...)
	for j := range integrations {
		in := benchIntegration(t.NamespaceName(), j)
		if configure != nil {
			configure(in, j)
		}
		iobjs, err := integration.DesiredObjects(in, t, "tenantwire:bench", credentialsHash, keyringVersion)
		if err != nil {
			return nil, err
		}
		objs = append(objs, iobjs...)
	}
	return objs, nil
}

// floorObjects renders what the operator would create for one tenant, relabelled so the operator's
// label-filtered cache never sees them and stripped of owner references (there is no owner here).
func floorObjects(i, integrations int) ([]client.Object, error) {
	objs, err := renderTenant(benchTenant("floor", i), integrations, nil, "floor", "1")
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		o.SetLabels(map[string]string{"tenantwire-bench": "floor"})
		o.SetOwnerReferences(nil)
		if es, ok := o.(*esv1.ExternalSecret); ok {
			es.Spec.Target.Template.Metadata.Labels = map[string]string{"tenantwire-bench": "floor"}
		}
	}
	return objs, nil
}

func run(ctx context.Context, cfg config) (result, error) {
	r := result{config: cfg}
	fmt.Printf("== T=%d tenants x %d integrations: starting a simulated cluster\n", cfg.Tenants, cfg.Integrations)
	c, err := startCluster(ctx, cfg)
	if err != nil {
		return r, err
	}
	// c is replaced between the phases; stop whichever is running.
	defer func() { c.stop() }()

	esoBefore, err := esoCounters(c.esoMetricsAddr)
	if err != nil {
		return r, fmt.Errorf("ESO metrics: %w", err)
	}
	perTenant, err := floorObjects(0, cfg.Integrations)
	if err != nil {
		return r, err
	}
	r.FloorObjects = len(perTenant) * cfg.Tenants
	if !cfg.SkipFloor {
		if esoBefore, err = runFloor(ctx, c, cfg, &r, esoBefore); err != nil {
			return r, err
		}
		if !cfg.SharedCluster {
			// The floor's objects would stay in etcd, in the API server's watch caches (which it
			// checks against etcd every five minutes), in the controller-manager and in kwok,
			// all through the operator phase: twice what the floor ran against. The operator phase
			// gets a cluster as empty as the floor's was.
			fmt.Println("   floor: done; starting a fresh simulated cluster for the operator phase")
			c.stop()
			if c, err = startCluster(ctx, cfg); err != nil {
				return r, err
			}
			if esoBefore, err = esoCounters(c.esoMetricsAddr); err != nil {
				return r, fmt.Errorf("ESO metrics: %w", err)
			}
		}
	}

	// Operator: the same shape through the API, converged by tenantwire.
	if err := c.client.Create(ctx, benchPolicy.DeepCopy()); err != nil {
		return r, err
	}
	if err := c.startOperator(cfg); err != nil {
		return r, err
	}
	if err := runOperator(ctx, c, cfg, &r, esoBefore); err != nil {
		return r, c.explain(err, cfg.MemoryLimit)
	}
	return r, nil
}

// runOperator is the operator phase, from the first create to the end of steady state. It ends
// as soon as the operator exits.
func runOperator(ctx context.Context, c *cluster, cfg config, r *result, esoBefore esoPhase) (err error) {
	ctx, cancel := c.untilExit(ctx)
	defer cancel()
	ctx, stopESOWatch := untilESOExits(ctx, c.DevDir)
	defer stopESOWatch()
	defer func() { err = esoCause(ctx, err) }()
	mem := watchMemory(ctx, c)
	prefix := fmt.Sprintf("T%d", cfg.Tenants)
	var prof *profiler
	if cfg.ProfileDir != "" {
		prof = startCPUProfiles(ctx, c.pprofAddr, cfg.ProfileDir, prefix)
	}
	fmt.Println("   operator: creating tenants and integrations")
	cpuStart, cpuErr := takeCPUSnapshot()
	start := time.Now()
	if err := forEach(ctx, cfg.Tenants, cfg.Concurrency, func(ctx context.Context, i int) error {
		t := benchTenant("bench", i)
		if err := c.client.Create(ctx, t); err != nil {
			return err
		}
		if err := waitFor(ctx, func() (bool, error) {
			err := c.client.Get(ctx, client.ObjectKey{Name: t.NamespaceName()}, &corev1.Namespace{})
			return err == nil, client.IgnoreNotFound(err)
		}); err != nil {
			return err
		}
		for j := range cfg.Integrations {
			if err := c.client.Create(ctx, benchIntegration(t.NamespaceName(), j)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := waitOperator(ctx, c.restConfig, cfg); err != nil {
		// Say how far it got: the writes and memory up to here are measurements too.
		if m, serr := scrape(c.metricsAddr); serr == nil {
			p := mem()
			fmt.Printf("   operator: gave up after %s: %.0f write requests (%.0f applies), peak RSS %.1f MiB, peak heap %.1f MiB\n",
				time.Since(start).Round(time.Second), m.mutating(), m.sum("tenantwire_child_applies_total"), p.RSS, p.Heap)
		}
		if prof != nil {
			heapProfile(context.WithoutCancel(ctx), c.pprofAddr, cfg.ProfileDir, prefix)
			prof.stop()
		}
		return err
	}
	r.OperatorTime = time.Since(start)
	fmt.Printf("   operator: all Ready in %s\n", r.OperatorTime.Round(time.Millisecond))
	r.OperatorCPU = phaseCPU(cpuStart, cpuErr)
	fmt.Printf("   operator: CPU %s\n", r.OperatorCPU)
	var esoEnd esoPhase
	if r.OperatorESO, esoEnd, err = esoPhaseSince(ctx, c, esoBefore, start, false); err != nil {
		return err
	}
	fmt.Printf("   operator: ESO %s\n", r.OperatorESO)
	if prof != nil {
		heapProfile(ctx, c.pprofAddr, cfg.ProfileDir, prefix)
	}

	m, err := scrape(c.metricsAddr)
	if err != nil {
		return err
	}
	r.MutatingRequests = m.mutating()
	r.ApplyRequests = m.sum("tenantwire_child_applies_total")
	r.AppliesByKind = m.byLabel("tenantwire_child_applies_total", "kind")
	r.StatusWritesByKind = m.byLabel("tenantwire_status_writes_total", "kind")
	r.ReconcilesByController = m.byLabel("controller_runtime_reconcile_total", "controller")
	r.StatusWritesByReason = m.byLabel("tenantwire_status_writes_total", "reason")
	end := time.Now()
	if r.AuditWrites, err = auditCountsIn(c.AuditLog, managerUser, start, end, writeVerbs); err != nil {
		return fmt.Errorf("breaking the writes down from the audit log: %w", err)
	}
	if r.AuditReads, err = auditCountsIn(c.AuditLog, managerUser, start, end, readVerbs); err != nil {
		return fmt.Errorf("breaking the reads down from the audit log: %w", err)
	}
	// The operator creates nothing but events and each tenant's first keyring (other children are
	// applied with PATCH).
	r.Creates = m.sum("rest_client_requests_total", `method="POST"`)
	r.ReconcileP50, r.ReconcileP99 = m.quantile("controller_runtime_reconcile_time_seconds", 0.5), m.quantile("controller_runtime_reconcile_time_seconds", 0.99)
	// The minimum: every object once, one status write per Tenant, Integration and the policy, the
	// Tenant finalizer, and each tenant's keyring report (Tenant status.keyring, the KeyPolicy
	// controller's field: the contract the policy's status is computed from).
	r.MinimumWrites = r.FloorObjects + cfg.Tenants*3 + cfg.Tenants*cfg.Integrations + 1

	// Trailing writes right after the last Ready (status of the last objects, events) belong to
	// convergence; steady state starts once they have drained.
	if err := sleep(ctx, 10*time.Second); err != nil {
		return err
	}
	settled, err := scrape(c.metricsAddr)
	if err != nil {
		return err
	}
	r.SettleWrites = settled.mutating() - r.MutatingRequests
	fmt.Printf("   steady state: watching writes for %s\n", cfg.Steady)
	if err := sleep(ctx, cfg.Steady); err != nil {
		return err
	}
	after, err := scrape(c.metricsAddr)
	if err != nil {
		return err
	}
	r.SteadyWrites = after.mutating() - settled.mutating()
	p := mem()
	r.PeakRSSMiB, r.PeakAnonMiB, r.PeakFileMiB, r.PeakHeapMiB = p.RSS, p.Anon, p.File, p.Heap
	// The runtime reports no limit as MaxInt64.
	if l := after.sum("go_gc_gomemlimit_bytes"); l < 1<<62 {
		r.GoMemLimitMiB = l / (1 << 20)
	}
	if c.cgroup != nil {
		if r.Cgroup, err = c.cgroup.stats(); err != nil {
			return fmt.Errorf("reading the operator's memory cgroup: %w", err)
		}
	}
	if c.cpuCgroup != nil {
		if r.CPUThrottling, err = c.cpuCgroup.throttling(); err != nil {
			return fmt.Errorf("reading the operator's cpu cgroup: %w", err)
		}
	}
	if prof != nil {
		// The last CPU slice may reach up to cpuSlice past the last Ready: quiet time, few samples.
		prof.stop()
	}
	// ESO's follow-ups of the operator phase, counted as the floor's are: the two phases' ESO work
	// compares whole (phase plus drain).
	if r.OperatorESODrain, _, err = drainESO(ctx, c.esoMetricsAddr, esoEnd); err != nil {
		return err
	}
	fmt.Printf("   operator: after the last Ready ESO ran %s\n", r.OperatorESODrain)
	return nil
}

// runFloor is the floor phase: a plain client, as the operator's ServiceAccount, creates every
// child object, then waits for ESO and the Deployments. It returns ESO's counters at its end.
func runFloor(ctx context.Context, c *cluster, cfg config, r *result, esoBefore esoPhase) (_ esoPhase, err error) {
	ctx, stopESOWatch := untilESOExits(ctx, c.DevDir)
	defer stopESOWatch()
	defer func() { err = esoCause(ctx, err) }()
	fmt.Println("   floor: creating the same objects with a plain client")
	cpuStart, cpuErr := takeCPUSnapshot()
	start := time.Now()
	var created atomic.Int64
	if err := forEach(ctx, cfg.Tenants, cfg.Concurrency, func(ctx context.Context, i int) error {
		objs, err := floorObjects(i, cfg.Integrations)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if err := c.floorClient.Create(ctx, o); err != nil {
				return fmt.Errorf("floor create %T %s: %w", o, o.GetName(), err)
			}
			created.Add(1)
		}
		return nil
	}); err != nil {
		return esoBefore, err
	}
	if err := waitFloor(ctx, c.restConfig, cfg.Tenants*cfg.Integrations); err != nil {
		return esoBefore, err
	}
	r.FloorTime = time.Since(start)
	if n := int(created.Load()); n != r.FloorObjects {
		return esoBefore, fmt.Errorf("floor created %d objects, expected %d", n, r.FloorObjects)
	}
	fmt.Printf("   floor: %d objects, all Deployments Available and ExternalSecrets synced in %s\n", r.FloorObjects, r.FloorTime.Round(time.Millisecond))
	r.FloorCPU = phaseCPU(cpuStart, cpuErr)
	fmt.Printf("   floor: CPU %s\n", r.FloorCPU)
	if r.FloorESO, esoBefore, err = esoPhaseSince(ctx, c, esoBefore, start, true); err != nil {
		return esoBefore, err
	}
	fmt.Printf("   floor: ESO %s\n", r.FloorESO)
	// The operator phase starts with ESO idle, as the floor did.
	if r.FloorESODrain, esoBefore, err = drainESO(ctx, c.esoMetricsAddr, esoBefore); err != nil {
		return esoBefore, err
	}
	fmt.Printf("   floor: then ESO ran %s\n", r.FloorESODrain)
	return esoBefore, nil
}

// esoPhaseSince reports what ESO did since `before` (counters) and `start` (timeline), and returns
// the counters now, the next phase's start.
func esoPhaseSince(ctx context.Context, c *cluster, before esoPhase, start time.Time, floor bool) (esoPhase, esoPhase, error) {
	now, err := esoCounters(c.esoMetricsAddr)
	if err != nil {
		return esoPhase{}, before, fmt.Errorf("ESO metrics: %w", err)
	}
	p := now.minus(before)
	if p.LastCreated, p.LastSynced, err = esoTimeline(ctx, c.client, start, floor); err != nil {
		return esoPhase{}, before, err
	}
	return p, now, nil
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func waitFor(ctx context.Context, cond func() (bool, error)) error {
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
