// Package watchcost measures what watching the children no controller reads costs the operator:
// childcache.Watches (a metadata watch that keeps a stamp per child) against controller-runtime's
// metadata-only informers with a transform that keeps only what routing and the Applier need.
// It is a benchmark, so `make test` only compiles it; run it once:
//
//	KUBEBUILDER_ASSETS=... go test ./test/watchcost -run '^$' -bench WatchCost -benchtime 1x -v
//
// WATCHCOST_TENANTS sets the number of tenants (1000 by default).
package watchcost

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unique"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/tenantwire/tenantwire/internal/childcache"
	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/memstats"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// approaches are the two ways to watch the children, each measured in a process of its own so
// that neither the other's heap nor the creation of the objects counts in its RSS.
var approaches = []string{"childcache", "informer"}

// result is what a measuring process reports.
type result struct {
	Objects     int     `json:"objects"`
	HeapMiB     float64 `json:"heapMiB"`
	RSSMiB      float64 `json:"rssMiB"`
	BaseRSSMiB  float64 `json:"baseRssMiB"`
	ListBytes   int64   `json:"listBytes"`
	WatchBytes  int64   `json:"watchBytes"`
	SyncSeconds float64 `json:"syncSeconds"`
}

func BenchmarkWatchCost(b *testing.B) {
	tenants := 1000
	if v := os.Getenv("WATCHCOST_TENANTS"); v != "" {
		var err error
		if tenants, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	env, err := testenv.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	c, err := client.New(env.Config, client.Options{Scheme: twscheme.New()})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	n, err := createChildren(context.Background(), c, tenants)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("created %d watched children of %d tenants in %s", n, tenants, time.Since(start).Round(time.Second))
	cfg, err := json.Marshal(map[string]any{"host": env.Config.Host, "ca": env.Config.CAData, "cert": env.Config.CertData, "key": env.Config.KeyData})
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		for _, a := range approaches {
			cmd := exec.Command(os.Args[0], "-test.run=^TestWatchCostMeasure$", "-test.count=1")
			cmd.Env = append(os.Environ(), "WATCHCOST_APPROACH="+a, "WATCHCOST_CONFIG="+string(cfg), "WATCHCOST_OBJECTS="+strconv.Itoa(n))
			out, err := cmd.CombinedOutput()
			if err != nil {
				b.Fatalf("%s: %v\n%s", a, err, out)
			}
			var r result
			line, ok := findResult(string(out))
			if !ok {
				b.Fatalf("%s reported nothing:\n%s", a, out)
			}
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				b.Fatal(err)
			}
			b.Logf("%-10s %6d objects  heap %6.2f MiB  RSS %6.1f MiB (%.1f before watching)  list %6.2f MiB  watch %5.1f KiB  synced in %.1fs",
				a, r.Objects, r.HeapMiB, r.RSSMiB, r.BaseRSSMiB, float64(r.ListBytes)/(1<<20), float64(r.WatchBytes)/(1<<10), r.SyncSeconds)
			b.ReportMetric(r.HeapMiB, a+"-heap-MiB")
			b.ReportMetric(r.RSSMiB, a+"-RSS-MiB")
		}
	}
}

func findResult(out string) (string, bool) {
	for l := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(l, "WATCHCOST "); ok {
			return v, true
		}
	}
	return "", false
}

// TestWatchCostMeasure is the measuring process BenchmarkWatchCost starts; on its own it skips.
func TestWatchCostMeasure(t *testing.T) {
	approach := os.Getenv("WATCHCOST_APPROACH")
	if approach == "" {
		t.Skip("started by BenchmarkWatchCost")
	}
	var c struct {
		Host          string
		CA, Cert, Key []byte
	}
	if err := json.Unmarshal([]byte(os.Getenv("WATCHCOST_CONFIG")), &c); err != nil {
		t.Fatal(err)
	}
	var bytes counter
	cfg := &rest.Config{Host: c.Host, TLSClientConfig: rest.TLSClientConfig{CAData: c.CA, CertData: c.Cert, KeyData: c.Key},
		QPS: -1, WrapTransport: func(rt http.RoundTripper) http.RoundTripper { return &counting{next: rt, bytes: &bytes} }}
	scheme := twscheme.New()
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	baseHeap, baseRSS := memstats.LiveHeap(), rss(t)
	start := time.Now()
	var keep any
	switch approach {
	case "childcache":
		keep = watchWithChildcache(ctx, t, cfg, httpClient, scheme, mapper)
	case "informer":
		keep = watchWithInformers(ctx, t, cfg, httpClient, scheme, mapper)
	default:
		t.Fatalf("unknown approach %q", approach)
	}
	synced := time.Since(start)
	listed := bytes.list.Load()
	// Let the watches run a while, as they would between changes.
	time.Sleep(5 * time.Second)
	heap := memstats.LiveHeap() - baseHeap
	r := result{Objects: int(objects.Load()), HeapMiB: float64(heap) / (1 << 20), RSSMiB: rss(t), BaseRSSMiB: baseRSS,
		ListBytes: listed, WatchBytes: bytes.watch.Load(), SyncSeconds: synced.Seconds()}
	runtime.KeepAlive(keep)
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("WATCHCOST %s\n", out)
}

// objects counts the children the handlers were told of, to check that both approaches saw all.
var objects atomic.Int64

func watchWithChildcache(ctx context.Context, t *testing.T, cfg *rest.Config, httpClient *http.Client,
	scheme *k8sruntime.Scheme, mapper meta.RESTMapper) any {
	t.Helper()
	w, err := childcache.NewWatches(cfg, httpClient, scheme, mapper)
	if err != nil {
		t.Fatal(err)
	}
	h := handler.Funcs{CreateFunc: func(context.Context, event.CreateEvent, workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		objects.Add(1)
	}}
	for _, obj := range childcache.WatchedKinds {
		src, err := w.Source(obj, h)
		if err != nil {
			t.Fatal(err)
		}
		q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
		if err := src.Start(ctx, q); err != nil {
			t.Fatal(err)
		}
		if err := src.WaitForSync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// watchWithInformers watches the same kinds with controller-runtime's metadata-only informers
// (what builder.OnlyMetadata sets up), limited to our children like the manager's cache, and with
// a transform that keeps what the childcache watches keep: the key, the UID and resourceVersion
// the Applier compares, the owner references and the routing labels, shared as childcache shares
// them.
func watchWithInformers(ctx context.Context, t *testing.T, cfg *rest.Config, httpClient *http.Client,
	scheme *k8sruntime.Scheme, mapper meta.RESTMapper) any {
	t.Helper()
	c, err := cache.New(cfg, cache.Options{HTTPClient: httpClient, Scheme: scheme, Mapper: mapper,
		DefaultLabelSelector: childcache.ManagedChildrenSelector(), DefaultTransform: keepRouting()})
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range childcache.WatchedKinds {
		gvk, err := apiutil.GVKForObject(obj, scheme)
		if err != nil {
			t.Fatal(err)
		}
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(gvk)
		inf, err := c.GetInformer(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: func(any) { objects.Add(1) }}); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		if err := c.Start(ctx); err != nil {
			t.Error(err)
		}
	}()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("the informers did not sync")
	}
	// The handlers hear of the listed objects after the sync; wait for them as childcache's
	// sources do before they report synced.
	for deadline := time.Now().Add(time.Minute); objects.Load() < int64(expected(t)) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	return c
}

// expected is the number of children the benchmark created, passed on by it.
func expected(t *testing.T) int {
	n, err := strconv.Atoi(os.Getenv("WATCHCOST_OBJECTS"))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// keepRouting is the transform of the informer approach.
func keepRouting() toolscache.TransformFunc {
	var mu sync.Mutex
	labelSets := map[string]map[string]string{}
	owners := map[types.UID][]metav1.OwnerReference{}
	return func(obj any) (any, error) {
		m, ok := obj.(*metav1.PartialObjectMetadata)
		if !ok {
			return obj, nil
		}
		mu.Lock()
		defer mu.Unlock()
		out := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: intern(m.APIVersion), Kind: intern(m.Kind)},
			ObjectMeta: metav1.ObjectMeta{Namespace: intern(m.Namespace), Name: m.Name, UID: m.UID, ResourceVersion: m.ResourceVersion}}
		var routing []string
		for _, k := range []string{labels.Tenant, labels.KeyPolicy} {
			if v, ok := m.Labels[k]; ok {
				routing = append(routing, k, v)
			}
		}
		if len(routing) > 0 {
			key := strings.Join(routing, "\x00")
			if _, ok := labelSets[key]; !ok {
				set := map[string]string{}
				for i := 0; i < len(routing); i += 2 {
					set[intern(routing[i])] = intern(routing[i+1])
				}
				labelSets[key] = set
			}
			out.Labels = labelSets[key]
		}
		if len(m.OwnerReferences) == 1 {
			uid := m.OwnerReferences[0].UID
			if _, ok := owners[uid]; !ok {
				owners[uid] = slices.Clone(m.OwnerReferences)
			}
			out.OwnerReferences = owners[uid]
		} else {
			out.OwnerReferences = m.OwnerReferences
		}
		return out, nil
	}
}

func intern(s string) string { return unique.Make(s).Value() }

// counting counts the bytes of the API server's responses: lists, and watch streams.
type counting struct {
	next  http.RoundTripper
	bytes *counter
}

type counter struct{ list, watch atomic.Int64 }

func (c *counting) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	n := &c.bytes.list
	if req.URL.Query().Get("watch") == "true" {
		n = &c.bytes.watch
	}
	resp.Body = &countingBody{ReadCloser: resp.Body, n: n}
	return resp, nil
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	k, err := b.ReadCloser.Read(p)
	b.n.Add(int64(k))
	return k, err
}

// createChildren creates, for each tenant, its namespace and the watched children the
// controllers make of a tenant with one Integration (15), labelled and owned as they are.
func createChildren(ctx context.Context, c client.Client, tenants int) (int, error) {
	var created atomic.Int64
	work := make(chan int)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				for _, obj := range childrenOf(i) {
					if err := c.Create(ctx, obj); err != nil {
						errs <- fmt.Errorf("%T %s: %w", obj, obj.GetName(), err)
						return
					}
					created.Add(1)
				}
			}
		}()
	}
	for i := range tenants {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	// The namespaces are not watched.
	return int(created.Load()) - tenants, nil
}

func childrenOf(i int) []client.Object {
	t := fmt.Sprintf("bench-%04d", i)
	ns := "tenant-" + t
	owner := func(kind, name string, j int) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: "tenantwire.io/v1alpha1", Kind: kind, Name: name,
			UID: types.UID(fmt.Sprintf("%08x-0000-4000-8000-%012x", i, j)), Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	}
	meta := func(name string, l map[string]string, refs []metav1.OwnerReference) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: ns, Name: name, Labels: l, OwnerReferences: refs,
			Annotations: map[string]string{"tenantwire.io/applied-intent": "sha256:" + strings.Repeat("0", 64)}}
	}
	tenant := owner("Tenant", t, 0)
	isolation, rbac := labels.ForTenant(t, "isolation"), labels.ForTenant(t, "rbac")
	keyring := labels.ForTenant(t, "keyring")
	keyring[labels.KeyPolicy] = "bench-default"
	in := owner("Integration", "sync-0", 1)
	roleRef := rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "view"}
	subject := []rbacv1.Subject{{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "acme-admins"}}
	objs := []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels.ForTenant(t, "namespace")}}}
	for _, n := range []string{"tenantwire-default-deny", "tenantwire-allow-dns", "tenantwire-allow-ingress"} {
		objs = append(objs, &networkingv1.NetworkPolicy{ObjectMeta: meta(n, isolation, tenant)})
	}
	objs = append(objs,
		&corev1.ResourceQuota{ObjectMeta: meta("tenantwire-quota", isolation, tenant)},
		&corev1.LimitRange{ObjectMeta: meta("tenantwire-limits", isolation, tenant)},
		&rbacv1.RoleBinding{ObjectMeta: meta("tenantwire-admins", rbac, tenant), RoleRef: roleRef, Subjects: subject},
		&rbacv1.RoleBinding{ObjectMeta: meta("tenantwire-viewers", rbac, tenant), RoleRef: roleRef, Subjects: subject},
		&corev1.ServiceAccount{ObjectMeta: meta("tenantwire-sync", labels.ForTenant(t, "sync"), tenant)},
		&rbacv1.Role{ObjectMeta: meta("tenantwire-keyring-reader", keyring, nil)},
		&rbacv1.RoleBinding{ObjectMeta: meta("tenantwire-keyring-reader", keyring, nil), RoleRef: roleRef, Subjects: subject},
		&corev1.ConfigMap{ObjectMeta: meta("sync-0-sync-config", labels.ForIntegration(t, "sync-0", "sync"), in),
			Data: map[string]string{"sync.yaml": strings.Repeat("x", 512)}},
		&corev1.ServiceAccount{ObjectMeta: meta("sync-0-sync", labels.ForIntegration(t, "sync-0", "sync"), in)},
		&rbacv1.Role{ObjectMeta: meta("sync-0-credentials-reader", labels.ForIntegration(t, "sync-0", "rbac"), in)},
		&rbacv1.RoleBinding{ObjectMeta: meta("sync-0-credentials-reader", labels.ForIntegration(t, "sync-0", "rbac"), in),
			RoleRef: roleRef, Subjects: subject},
		&networkingv1.NetworkPolicy{ObjectMeta: meta("sync-0-egress", labels.ForIntegration(t, "sync-0", "isolation"), in)},
	)
	return objs
}

// rss is the process's resident set size in MiB.
func rss(t *testing.T) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb / 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
