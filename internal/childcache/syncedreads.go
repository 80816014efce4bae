package childcache

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// NewClient is the manager's client constructor (manager.Options.NewClient): its cached reads
// wait for the informer they read to sync.
//
// The manager waits for the informers that exist when it starts; the others are started by a
// controller's watch when that controller starts. With ReaderFailOnMissingInformer, a read from
// another controller then finds such an informer before its first list has arrived and sees a
// partial cluster: after a restart, a KeyPolicy aggregated over no tenants and wrote that status.
func NewClient(config *rest.Config, options client.Options) (client.Client, error) {
	if options.Cache != nil && options.Cache.Reader != nil {
		if informers, ok := options.Cache.Reader.(cache.Informers); ok {
			reader := *options.Cache
			reader.Reader = &syncedReader{Reader: options.Cache.Reader, informers: informers, scheme: options.Scheme}
			options.Cache = &reader
		}
	}
	return client.New(config, options)
}

// syncedReader reads the cache and, when the informer behind a read has not synced yet, waits for
// it and reads again. The read goes first so that a kind nobody watches still fails (asking for
// its informer would start one).
type syncedReader struct {
	client.Reader
	informers cache.Informers
	scheme    *runtime.Scheme
}

func (r *syncedReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	read := func() error { return r.Reader.Get(ctx, key, obj, opts...) }
	return r.readSynced(ctx, obj, read)
}

func (r *syncedReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	read := func() error { return r.Reader.List(ctx, list, opts...) }
	item, ok := r.itemOf(list)
	if !ok {
		return read()
	}
	return r.readSynced(ctx, item, read)
}

// readSynced reads, and reads again once the informer of obj's kind has synced if it had not.
func (r *syncedReader) readSynced(ctx context.Context, obj client.Object, read func() error) error {
	err := read()
	if !readFromInformer(err) {
		return err
	}
	waited, werr := r.waitSynced(ctx, obj)
	if werr != nil {
		return werr
	}
	if !waited {
		return err
	}
	return read()
}

// readFromInformer tells whether a read reached an informer: it found the object or found it
// missing. Other errors (not cached, cache not started) are returned as they are.
func readFromInformer(err error) bool {
	return err == nil || client.IgnoreNotFound(err) == nil
}

// waitSynced waits for the informer of obj's kind when it has not synced; it reports whether it
// had to. The informer exists: the read just reached it.
func (r *syncedReader) waitSynced(ctx context.Context, obj client.Object) (bool, error) {
	inf, err := r.informers.GetInformer(ctx, obj, cache.BlockUntilSynced(false))
	if err != nil {
		return false, err
	}
	if inf.HasSynced() {
		return false, nil
	}
	if !toolscache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return true, fmt.Errorf("waiting for the informer of %T to sync: %w", obj, ctx.Err())
	}
	return true, nil
}

// itemOf is an object of the kind a list holds, to find its informer by; metadata-only and
// unstructured lists, which this operator does not read from the cache, give none.
func (r *syncedReader) itemOf(list client.ObjectList) (client.Object, bool) {
	switch list.(type) {
	case *metav1.PartialObjectMetadataList, *unstructured.UnstructuredList:
		return nil, false
	}
	gvk, err := apiutil.GVKForObject(list, r.scheme)
	if err != nil {
		return nil, false
	}
	gvk.Kind = strings.TrimSuffix(gvk.Kind, "List")
	obj, err := r.scheme.New(gvk)
	if err != nil {
		return nil, false
	}
	item, ok := obj.(client.Object)
	return item, ok
}
