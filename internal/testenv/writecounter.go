package testenv

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// WriteCounter wraps a client and counts every mutating request it sends, status writes included.
// Tests use it to prove a converged reconcile makes zero writes.
type WriteCounter struct {
	client.Client
	writes atomic.Int64
	mu     sync.Mutex
	log    []string
}

// NewWriteCounter wraps c.
func NewWriteCounter(c client.Client) *WriteCounter { return &WriteCounter{Client: c} }

// Writes is the number of mutating requests sent so far.
func (w *WriteCounter) Writes() int64 { return w.writes.Load() }

// Since lists the writes after the first n, as "verb kind/name", for failure messages.
func (w *WriteCounter) Since(n int64) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if int(n) >= len(w.log) {
		return nil
	}
	return append([]string(nil), w.log[n:]...)
}

func (w *WriteCounter) record(verb string, obj any) {
	name := fmt.Sprintf("%T", obj)
	if o, ok := obj.(interface {
		GetNamespace() string
		GetName() string
	}); ok {
		name = fmt.Sprintf("%T %s/%s", obj, o.GetNamespace(), o.GetName())
	}
	w.mu.Lock()
	w.log = append(w.log, verb+" "+name)
	w.writes.Add(1)
	w.mu.Unlock()
}

func (w *WriteCounter) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	w.record("create", obj)
	return w.Client.Create(ctx, obj, opts...)
}

func (w *WriteCounter) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	w.record("update", obj)
	return w.Client.Update(ctx, obj, opts...)
}

func (w *WriteCounter) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	w.record("patch", obj)
	return w.Client.Patch(ctx, obj, patch, opts...)
}

func (w *WriteCounter) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	w.record("apply", obj)
	return w.Client.Apply(ctx, obj, opts...)
}

func (w *WriteCounter) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	w.record("delete", obj)
	return w.Client.Delete(ctx, obj, opts...)
}

func (w *WriteCounter) DeleteAllOf(ctx context.Context, obj client.Object, opts ...client.DeleteAllOfOption) error {
	w.record("deleteallof", obj)
	return w.Client.DeleteAllOf(ctx, obj, opts...)
}

func (w *WriteCounter) Status() client.SubResourceWriter {
	return &countingSubResource{SubResourceWriter: w.Client.Status(), parent: w}
}

func (w *WriteCounter) SubResource(name string) client.SubResourceClient {
	return &countingSubResource{SubResourceWriter: w.Client.SubResource(name), reader: w.Client.SubResource(name), parent: w}
}

type countingSubResource struct {
	client.SubResourceWriter
	reader client.SubResourceReader
	parent *WriteCounter
}

func (s *countingSubResource) Get(ctx context.Context, obj, sub client.Object, opts ...client.SubResourceGetOption) error {
	return s.reader.Get(ctx, obj, sub, opts...)
}

func (s *countingSubResource) Create(ctx context.Context, obj, sub client.Object, opts ...client.SubResourceCreateOption) error {
	s.parent.record("status-create", obj)
	return s.SubResourceWriter.Create(ctx, obj, sub, opts...)
}

func (s *countingSubResource) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	s.parent.record("status-update", obj)
	return s.SubResourceWriter.Update(ctx, obj, opts...)
}

func (s *countingSubResource) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	s.parent.record("status-patch", obj)
	return s.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}
