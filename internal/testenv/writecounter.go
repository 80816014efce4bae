package testenv

import (
	"context"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// WriteCounter wraps a client and counts every mutating request it sends, status writes included.
// Tests use it to prove a converged reconcile makes zero writes.
type WriteCounter struct {
	client.Client
	writes atomic.Int64
}

// NewWriteCounter wraps c.
func NewWriteCounter(c client.Client) *WriteCounter { return &WriteCounter{Client: c} }

// Writes is the number of mutating requests sent so far.
func (w *WriteCounter) Writes() int64 { return w.writes.Load() }

func (w *WriteCounter) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	w.writes.Add(1)
	return w.Client.Create(ctx, obj, opts...)
}

func (w *WriteCounter) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	w.writes.Add(1)
	return w.Client.Update(ctx, obj, opts...)
}

func (w *WriteCounter) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	w.writes.Add(1)
	return w.Client.Patch(ctx, obj, patch, opts...)
}

func (w *WriteCounter) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	w.writes.Add(1)
	return w.Client.Apply(ctx, obj, opts...)
}

func (w *WriteCounter) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	w.writes.Add(1)
	return w.Client.Delete(ctx, obj, opts...)
}

func (w *WriteCounter) DeleteAllOf(ctx context.Context, obj client.Object, opts ...client.DeleteAllOfOption) error {
	w.writes.Add(1)
	return w.Client.DeleteAllOf(ctx, obj, opts...)
}

func (w *WriteCounter) Status() client.SubResourceWriter {
	return &countingSubResource{SubResourceWriter: w.Client.Status(), writes: &w.writes}
}

func (w *WriteCounter) SubResource(name string) client.SubResourceClient {
	return &countingSubResource{SubResourceWriter: w.Client.SubResource(name), reader: w.Client.SubResource(name), writes: &w.writes}
}

type countingSubResource struct {
	client.SubResourceWriter
	reader client.SubResourceReader
	writes *atomic.Int64
}

func (s *countingSubResource) Get(ctx context.Context, obj, sub client.Object, opts ...client.SubResourceGetOption) error {
	return s.reader.Get(ctx, obj, sub, opts...)
}

func (s *countingSubResource) Create(ctx context.Context, obj, sub client.Object, opts ...client.SubResourceCreateOption) error {
	s.writes.Add(1)
	return s.SubResourceWriter.Create(ctx, obj, sub, opts...)
}

func (s *countingSubResource) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	s.writes.Add(1)
	return s.SubResourceWriter.Update(ctx, obj, opts...)
}

func (s *countingSubResource) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	s.writes.Add(1)
	return s.SubResourceWriter.Patch(ctx, obj, patch, opts...)
}
