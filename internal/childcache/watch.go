package childcache

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// WatchedKinds are the children no controller reads: it only needs to know that one changed or
// went, to put it back (apply.Applier tells whether it still holds what we applied, with one read
// of it from the API server). They are watched here instead of cached. At 1000 tenants they are
// 25000 of the 43000 children: slim informers held them in 17 MiB and their indexes in about 3
// more; the watches keep them in 5.4 MiB, their shared label sets and owner lists included
// (BenchmarkWatchRetained). Against an API server, controller-runtime's metadata-only informers
// with a transform that keeps as little held 2.7 times the heap and grew the process by 69 MiB
// against 12 (test/watchcost; docs/benchmarks.md).
var WatchedKinds = []client.Object{
	&networkingv1.NetworkPolicy{}, &corev1.ResourceQuota{}, &corev1.LimitRange{}, &rbacv1.Role{},
	&rbacv1.RoleBinding{}, &corev1.ServiceAccount{}, &corev1.ConfigMap{}, &corev1.PersistentVolumeClaim{},
}

// watchedGroupKinds are the WatchedKinds' group and kind, for Stamp.
var watchedGroupKinds = func() map[schema.GroupKind]bool {
	out := map[schema.GroupKind]bool{}
	for _, obj := range WatchedKinds {
		gvk, err := apiutil.GVKForObject(obj, clientgoscheme.Scheme)
		if err != nil {
			panic(err)
		}
		out[gvk.GroupKind()] = true
	}
	return out
}()

// Watches watches the WatchedKinds without caching them. Of each child it keeps its Stamp, which
// apply.Applier compares with the version it last verified, and its owner references and labels
// (shared with its siblings), which route events to the controllers.
// One watch per kind serves every controller, as an informer would.
type Watches struct {
	client metadata.Interface
	mapper meta.RESTMapper
	scheme *runtime.Scheme
	kinds  map[schema.GroupVersionKind]*kindWatch
}

// NewWatches prepares the watches; each starts with the first controller that watches its kind.
func NewWatches(cfg *rest.Config, httpClient *http.Client, scheme *runtime.Scheme, mapper meta.RESTMapper) (*Watches, error) {
	c, err := metadata.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	w := &Watches{client: c, mapper: mapper, scheme: scheme, kinds: map[schema.GroupVersionKind]*kindWatch{}}
	for _, obj := range WatchedKinds {
		gvk, err := apiutil.GVKForObject(obj, scheme)
		if err != nil {
			return nil, err
		}
		w.kinds[gvk] = &kindWatch{gvk: gvk, synced: make(chan struct{}), children: map[client.ObjectKey]child{}}
	}
	return w, nil
}

// Source is a controller's watch of one of the WatchedKinds: h receives its events, which pass
// preds first. It is a syncing source: the controller starts once the kind has been listed.
// Handlers and predicates see a child's namespace, name, owner references and, of its labels,
// only those in routedBy.
func (w *Watches) Source(obj client.Object, h handler.EventHandler, preds ...predicate.Predicate) (source.SyncingSource, error) {
	k, err := w.kind(obj)
	if err != nil {
		return nil, err
	}
	return &watchSource{watches: w, kind: k, handler: h, predicates: preds}, nil
}

// ErrNotWatched is returned for a kind that is not one of the WatchedKinds.
var ErrNotWatched = errors.New("kind is not watched without a cache")

// Stamp reports what the watch knows of a child: its Stamp, and whether it exists. It fails with
// ErrNotWatched for kinds not watched here, and while the kind has not been listed yet.
func (w *Watches) Stamp(gvk schema.GroupVersionKind, key client.ObjectKey) (uint64, bool, error) {
	k, ok := w.kinds[gvk]
	if !ok {
		return 0, false, fmt.Errorf("%s: %w", gvk.Kind, ErrNotWatched)
	}
	select {
	case <-k.synced:
	default:
		return 0, false, fmt.Errorf("the %s watch has not listed its objects yet", gvk.Kind)
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	c, ok := k.children[key]
	return c.stamp, ok, nil
}

// Watched reports whether objects of gvk are watched here rather than cached; never, for a nil
// Watches.
func (w *Watches) Watched(gvk schema.GroupVersionKind) bool {
	if w == nil {
		return false
	}
	_, ok := w.kinds[gvk]
	return ok
}

// OwnedBy returns a source per kind that wakes the controller of owner, as the builder's Owns
// does for a cached kind.
func (w *Watches) OwnedBy(owner client.Object, kinds ...client.Object) ([]source.Source, error) {
	if w == nil {
		return nil, errors.New("no child watches: the reconciler's Children is not set")
	}
	h := handler.EnqueueRequestForOwner(w.scheme, w.mapper, owner, handler.OnlyControllerOwner())
	out := make([]source.Source, 0, len(kinds))
	for _, k := range kinds {
		s, err := w.Source(k, h)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (w *Watches) kind(obj client.Object) (*kindWatch, error) {
	if w == nil {
		return nil, errors.New("no child watches: the reconciler's Children is not set")
	}
	gvk, err := apiutil.GVKForObject(obj, w.scheme)
	if err != nil {
		return nil, err
	}
	k, ok := w.kinds[gvk]
	if !ok {
		return nil, fmt.Errorf("%s: %w", gvk.Kind, ErrNotWatched)
	}
	return k, nil
}

// start runs the kind's reflector once, for as long as ctx lasts: the context of the first
// controller that watches the kind, which is the manager's. A start that fails (no REST mapping
// yet) leaves the next one to try again.
func (w *Watches) start(ctx context.Context, k *kindWatch) error {
	k.startMu.Lock()
	defer k.startMu.Unlock()
	if k.started {
		return nil
	}
	mapping, err := w.mapper.RESTMapping(k.gvk.GroupKind(), k.gvk.Version)
	if err != nil {
		return fmt.Errorf("%s watch: %w", k.gvk.Kind, err)
	}
	res := w.client.Resource(mapping.Resource)
	selector := ManagedChildrenSelector().String()
	lw := &toolscache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.LabelSelector = selector
			return res.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.LabelSelector = selector
			return res.Watch(ctx, opts)
		},
	}
	r := toolscache.NewReflectorWithOptions(lw, &metav1.PartialObjectMetadata{}, k,
		toolscache.ReflectorOptions{Name: "childcache-" + k.gvk.Kind, TypeDescription: k.gvk.String()})
	go r.RunWithContext(ctx)
	k.started = true
	return nil
}

// watchSource is one controller's registration on a kind's watch.
type watchSource struct {
	watches    *Watches
	kind       *kindWatch
	handler    handler.EventHandler
	predicates []predicate.Predicate
}

var _ source.SyncingSource = &watchSource{}

func (s *watchSource) Start(ctx context.Context, queue workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	s.kind.register(ctx, listener{handler: s.handler, predicates: s.predicates, queue: queue})
	return s.watches.start(ctx, s.kind)
}

func (s *watchSource) WaitForSync(ctx context.Context) error {
	select {
	case <-s.kind.synced:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s watch: %w", s.kind.gvk.Kind, ctx.Err())
	}
}

func (s *watchSource) String() string { return "childcache watch of " + s.kind.gvk.Kind }
