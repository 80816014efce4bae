// Package apply writes desired child objects with server-side apply and skips the call when the
// child already holds the applied intent, so that a converged reconcile makes no writes at all (the
// approach of Flux's ssa manager and Cluster API's ssa cache, without a dry run). The cache holds
// children slimmed, so "already holds" is known from a version (childcache.Stamp) verified earlier,
// or from one uncached read.
package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/tenantwire/tenantwire/internal/childcache"
	"github.com/tenantwire/tenantwire/internal/metrics"
)

// IntentAnnotation holds a digest of what we last applied. A field we stop setting leaves the
// desired object a subset of the live one, so only the digest tells that the intent changed.
const IntentAnnotation = "tenantwire.io/applied-intent"

// Result says what Apply did.
type Result int

const (
	// Unchanged: the live object already held the intent; nothing was sent.
	Unchanged Result = iota
	// Applied: a server-side apply request was sent.
	Applied
)

// Applier applies children for one controller (one field owner). It remembers which children it
// has verified, so one Applier must live as long as its controller and must not be copied.
type Applier struct {
	// Client reads from the manager's cache and writes to the API server.
	Client client.Client
	// Reader reads from the API server. The cache holds children slimmed (childcache.Slim), so
	// when a child changed since it was last verified, the whole object is read from here.
	Reader client.Reader
	Scheme *runtime.Scheme
	// Owner is the field manager of every apply.
	Owner string
	// Watched tells what is known of the children of kinds watched without a cache
	// (childcache.Watches); nil when every child kind is cached.
	Watched WatchedChildren

	verified verified
}

// WatchedChildren tells the version of children that are watched but not cached.
type WatchedChildren interface {
	// Watched reports whether children of gvk are watched rather than cached.
	Watched(gvk schema.GroupVersionKind) bool
	// Stamp returns the child's childcache.Stamp and whether it exists.
	Stamp(gvk schema.GroupVersionKind, key client.ObjectKey) (stamp uint64, exists bool, err error)
}

// Apply makes the live object hold desired. desired must be a typed object of a kind registered in
// the scheme, with name (and namespace) set; its status is never applied. On success desired is
// given the live object's metadata and status (after a write, it is the apply response whole).
//
// A converged child costs no request at all, nor the rendering of its intent: its cached version
// (childcache.Stamp, which another controller's status write does not move) is one this Applier
// already verified for a desired object with the same fingerprint. A child that changed since (or
// was never verified by this process, as after a restart) costs one uncached read, and a write
// only when it no longer holds the intent.
//
// With Replacing, the write is conditional on what the caller read: see Replacing.
func (a *Applier) Apply(ctx context.Context, desired client.Object, opts ...Option) (Result, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	c, err := a.lookup(ctx, desired)
	if err != nil {
		return Unchanged, err
	}
	switch {
	case apierrors.IsNotFound(c.cacheErr):
		if !a.verified.has(c.key) {
			break
		}
		// This Applier wrote the child: the cache has not seen it yet (a reconcile woken by a
		// sibling's event, milliseconds later), or it was deleted since. A read tells, and costs
		// less than writing it again.
		if held, err := a.verify(ctx, &c, desired); err != nil || held {
			return Unchanged, err
		}
		a.verified.forget(c.key)
	case c.cacheErr != nil:
		return Unchanged, c.cacheErr
	case a.verified.holds(c.key, c.stamp, c.fingerprint):
		if c.cached == nil {
			return Unchanged, nil
		}
		return Unchanged, copyLive(desired, c.cached)
	default:
		intent, err := c.render(desired, a.Scheme)
		if err != nil {
			return Unchanged, err
		}
		if d, ok := cachedIntent(c.cached); ok && d != intent.GetAnnotations()[IntentAnnotation] {
			// Our intent changed: apply without reading more. (Slim cached children carry no
			// annotations; for them the read below tells.)
			break
		}
		if held, err := a.verify(ctx, &c, desired); err != nil || held {
			return Unchanged, err
		}
	}

	intent, err := c.render(desired, a.Scheme)
	if err != nil {
		return Unchanged, err
	}
	if err := a.write(ctx, desired, intent, o); err != nil {
		a.verified.forget(c.key)
		return Unchanged, fmt.Errorf("applying %s %s: %w", c.gvk.Kind, c.objKey, err)
	}
	metrics.ChildApplies.WithLabelValues(a.Owner, c.gvk.Kind).Inc()
	// The apply response is the live object: it holds the intent at its resourceVersion.
	a.verified.record(c.key, stampOf(c.gvk, desired), c.fingerprint)
	return Applied, nil
}

// write sends intent and decodes the live object that results into desired.
func (a *Applier) write(ctx context.Context, desired client.Object, intent *unstructured.Unstructured, o options) error {
	if o.replacing && o.resourceVersion == "" {
		// Server-side apply creates what is missing and replaces what is not: only a create is
		// refused when the object exists. The fields it sets are owned by an Update entry of the
		// same field owner, so an apply that later stops setting one does not remove it; a
		// keyring's fields stay the same set.
		created := intent.DeepCopy()
		if err := a.Client.Create(ctx, created, client.FieldOwner(a.Owner)); err != nil {
			return err
		}
		return runtime.DefaultUnstructuredConverter.FromUnstructured(created.Object, desired)
	}
	if o.replacing {
		// A resourceVersion in an apply is a precondition: the API server answers Conflict when
		// the object has moved on since.
		intent = intent.DeepCopy()
		intent.SetResourceVersion(o.resourceVersion)
	}
	patch, err := PatchOf(intent)
	if err != nil {
		return err
	}
	// The response is decoded into desired, typed: for built-in kinds the client asks for
	// protobuf, and a typed decode allocates a fraction of an unstructured one converted back (a
	// third of the operator's allocations went to applies).
	return a.Client.Patch(ctx, desired, patch, client.FieldOwner(a.Owner), client.ForceOwnership)
}

// Option changes how Apply writes.
type Option func(*options)

type options struct {
	replacing       bool
	resourceVersion string
}

// Replacing makes a write conditional on the version of the object the caller built desired from:
// the live object must still be at resourceVersion, or, when resourceVersion is empty, not exist.
// Otherwise Apply fails with a Conflict (apierrors.IsConflict) or AlreadyExists
// (apierrors.IsAlreadyExists) error and writes nothing. It is for a child whose content cannot be
// rebuilt from the desired state, such as a keyring's keys: without it, a writer whose cache has
// not seen the object, or a second writer in a leader hand-over, would replace it.
func Replacing(resourceVersion string) Option {
	return func(o *options) { o.replacing, o.resourceVersion = true, resourceVersion }
}

// Knowledge is what an Applier can tell about a child without a request to the API server.
type Knowledge int

const (
	// Unknown: the child may exist and may not hold the intent; only a read of it tells.
	Unknown Knowledge = iota
	// Absent: the cache holds no such child, and this Applier has not written one since it last
	// found none (a child it has just created may not have reached the cache yet).
	Absent
	// Held: the cached child is at a version this Applier verified to hold the intent, so Apply
	// would send nothing.
	Held
)

// Known reports what the cache and the Applier's memory say of desired, without a request.
func (a *Applier) Known(ctx context.Context, desired client.Object) (Knowledge, error) {
	c, err := a.lookup(ctx, desired)
	switch {
	case err != nil:
		return Unknown, err
	case apierrors.IsNotFound(c.cacheErr):
		if a.verified.has(c.key) {
			return Unknown, nil
		}
		return Absent, nil
	case c.cacheErr != nil:
		return Unknown, c.cacheErr
	case a.verified.holds(c.key, c.stamp, c.fingerprint):
		return Held, nil
	}
	return Unknown, nil
}

// child is one desired child and what the cache (or the watch) holds of it.
type child struct {
	gvk    schema.GroupVersionKind
	objKey client.ObjectKey
	key    uint64
	// fingerprint identifies the desired object (Fingerprint); intent is rendered from it only
	// when a request needs it (render).
	fingerprint uint64
	intent      *unstructured.Unstructured
	// stamp identifies the version known of the child (childcache.Stamp); cacheErr is NotFound
	// when none is known, or the cache read's error.
	stamp    uint64
	cacheErr error
	// cached is the cached object; nil for a watched kind, or when cacheErr is set.
	cached client.Object
}

// render returns the child's intent, rendering it on first use.
func (c *child) render(desired client.Object, scheme *runtime.Scheme) (*unstructured.Unstructured, error) {
	if c.intent == nil {
		intent, err := Intent(desired, scheme)
		if err != nil {
			return nil, err
		}
		c.intent = intent
	}
	return c.intent, nil
}

// lookup fingerprints desired and reads what the cache, or the watch of its kind, knows of it.
func (a *Applier) lookup(ctx context.Context, desired client.Object) (child, error) {
	gvk, err := apiutil.GVKForObject(desired, a.Scheme)
	if err != nil {
		return child{}, err
	}
	fp, err := Fingerprint(desired)
	if err != nil {
		return child{}, err
	}
	objKey := client.ObjectKeyFromObject(desired)
	c := child{gvk: gvk, objKey: objKey, key: childKey(gvk, objKey), fingerprint: fp}
	if a.Watched != nil && a.Watched.Watched(gvk) {
		stamp, exists, err := a.Watched.Stamp(gvk, objKey)
		if err != nil {
			return child{}, err
		}
		c.stamp = stamp
		if !exists {
			c.cacheErr = apierrors.NewNotFound(schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}, objKey.Name)
		}
		return c, nil
	}
	cached, err := a.newObject(gvk)
	if err != nil {
		return child{}, err
	}
	if c.cacheErr = a.Client.Get(ctx, objKey, cached); c.cacheErr == nil {
		c.cached, c.stamp = cached, stampOf(gvk, cached)
	}
	return c, nil
}

// Fingerprint identifies a desired object: a hash of its JSON encoding. The intent (Intent) is a
// function of the desired object, so equal fingerprints mean equal intents; rendering the intent
// costs six times as much (its unstructured form and sorted encoding), and a converged reconcile
// only needs to know that it did not change.
func Fingerprint(desired client.Object) (uint64, error) {
	// An Encoder writes from a pooled buffer; json.Marshal would copy every encoding out of it.
	h := fnv.New64a()
	if err := json.NewEncoder(h).Encode(desired); err != nil {
		return 0, err
	}
	return h.Sum64(), nil
}

// stampOf is the childcache.Stamp of an object at hand.
func stampOf(gvk schema.GroupVersionKind, obj metav1.Object) uint64 {
	return childcache.Stamp(gvk.GroupKind(), obj)
}

// cachedIntent is the intent digest a cached child carries, when the cache keeps its annotations
// (slim cached children carry none).
func cachedIntent(cached client.Object) (string, bool) {
	if cached == nil {
		return "", false
	}
	d, ok := cached.GetAnnotations()[IntentAnnotation]
	return d, ok
}

// verify reads the child from the API server; when it holds the intent it is recorded as
// verified and desired gets its live metadata and status.
func (a *Applier) verify(ctx context.Context, c *child, desired client.Object) (bool, error) {
	intent, err := c.render(desired, a.Scheme)
	if err != nil {
		return false, err
	}
	live, held, err := a.readAndCompare(ctx, c.gvk, c.objKey, intent)
	if err != nil || !held {
		return false, err
	}
	a.verified.record(c.key, stampOf(c.gvk, live), c.fingerprint)
	return true, copyLive(desired, live)
}

// readAndCompare reads the whole child from the API server and reports whether it holds intent.
// A child deleted since the cache saw it does not.
func (a *Applier) readAndCompare(ctx context.Context, gvk schema.GroupVersionKind, key client.ObjectKey,
	intent *unstructured.Unstructured) (client.Object, bool, error) {
	live, err := a.newObject(gvk)
	if err != nil {
		return nil, false, err
	}
	reader := a.Reader
	if reader == nil {
		reader = a.Client
	}
	// resourceVersion "0": the API server answers from its watch cache, not etcd. That cache is at
	// least as new as what our informer has seen, and an older answer only costs another read.
	switch err := reader.Get(ctx, key, live, &client.GetOptions{Raw: &metav1.GetOptions{ResourceVersion: "0"}}); {
	case apierrors.IsNotFound(err):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	held, err := Holds(live, intent)
	return live, held, err
}

func (a *Applier) newObject(gvk schema.GroupVersionKind) (client.Object, error) {
	o, err := a.Scheme.New(gvk)
	if err != nil {
		return nil, err
	}
	obj, ok := o.(client.Object)
	if !ok {
		return nil, fmt.Errorf("%s is not a client.Object", gvk)
	}
	return obj, nil
}

// copyLive gives dst (the desired object) the metadata and status of src (the live object of the
// same type). The rest of dst stays as desired: the live object holds it already, and a cached one
// may lack it (childcache.Slim), so copying it would hand callers an object without, say, a
// ConfigMap's data.
func copyLive(dst, src client.Object) error {
	dv, sv := reflect.ValueOf(dst), reflect.ValueOf(src)
	if dv.Type() != sv.Type() || dv.Kind() != reflect.Pointer || dv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("cannot copy %T into %T", src, dst)
	}
	for _, field := range []string{"ObjectMeta", "Status"} {
		if f := dv.Elem().FieldByName(field); f.IsValid() && f.CanSet() {
			f.Set(sv.Elem().FieldByName(field))
		}
	}
	return nil
}

// PatchOf is the server-side apply patch that sends intent as the body, as Apply sends it.
func PatchOf(intent *unstructured.Unstructured) (client.Patch, error) {
	body, err := json.Marshal(intent.Object)
	if err != nil {
		return nil, err
	}
	return client.RawPatch(types.ApplyPatchType, body), nil
}

// Intent renders desired as the unstructured object we send: no status, no server-set metadata,
// and the intent digest annotation.
func Intent(desired client.Object, scheme *runtime.Scheme) (*unstructured.Unstructured, error) {
	gvk, err := apiutil.GVKForObject(desired, scheme)
	if err != nil {
		return nil, err
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(desired)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "metadata", "resourceVersion")
	unstructured.RemoveNestedField(u.Object, "metadata", "uid")
	unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
	unstructured.RemoveNestedField(u.Object, "metadata", "annotations", IntentAnnotation)

	// json.Marshal sorts map keys, so equal intents give equal digests.
	raw, err := json.Marshal(u.Object)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[IntentAnnotation] = hex.EncodeToString(sum[:12])
	u.SetAnnotations(ann)
	return u, nil
}

// Holds reports whether live already carries intent: same digest, and every field of the intent
// present with the same value (so a hand edit of a field we own is repaired).
func Holds(live client.Object, intent *unstructured.Unstructured) (bool, error) {
	if live.GetAnnotations()[IntentAnnotation] != intent.GetAnnotations()[IntentAnnotation] {
		return false, nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
	if err != nil {
		return false, err
	}
	// Typed objects may come without TypeMeta; the Get by key already matched the kind.
	m["apiVersion"], m["kind"] = intent.GetAPIVersion(), intent.GetKind()
	return contains(m, intent.Object), nil
}

// contains reports whether have holds every field of want with an equal value. Lists must match
// element by element; fields the server added (defaults) are ignored.
func contains(have, want any) bool {
	switch w := want.(type) {
	case nil:
		return true
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return len(w) == 0 && have == nil
		}
		for k, wv := range w {
			hv, present := h[k]
			if !present {
				if isEmpty(wv) {
					continue
				}
				return false
			}
			if !contains(hv, wv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok {
			return len(w) == 0 && have == nil
		}
		if len(h) != len(w) {
			return false
		}
		for i := range w {
			if !contains(h[i], w[i]) {
				return false
			}
		}
		return true
	default:
		return scalarEqual(have, want)
	}
}

func isEmpty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	}
	return false
}

// scalarEqual compares JSON scalars, treating integer and float encodings of a number as equal.
func scalarEqual(a, b any) bool {
	if af, ok := asFloat(a); ok {
		bf, ok := asFloat(b)
		return ok && af == bf
	}
	return a == b
}

func asFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}
