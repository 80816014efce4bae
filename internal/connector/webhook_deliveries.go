package connector

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
)

// DeliveryLog keeps the deliveries a webhook source received until the sync has written them.
// The handler answers 202 only once Append has returned, so an acknowledged delivery is exactly as
// durable as the log: the sync runtime's log seals each delivery into the mapping store, and the
// in-memory log (the default, for tests and tools) loses what it holds when the process ends.
type DeliveryLog interface {
	// Epoch names the log's sequence space. A cursor of another epoch acknowledges nothing in this
	// log: the in-memory log of a new process counts from one again, a durable log never does.
	Epoch() string
	// Append keeps a delivery and returns its sequence number, which grows with every delivery.
	// It returns only once the delivery is as durable as the log promises.
	Append(ctx context.Context, r Record) (uint64, error)
	// After returns up to limit deliveries whose sequence number is above seq, in order.
	After(ctx context.Context, seq uint64, limit int) ([]LoggedDelivery, error)
	// Ack removes the deliveries up to and including seq: the sync has written them.
	Ack(ctx context.Context, seq uint64) error
	// Len counts the deliveries waiting.
	Len(ctx context.Context) (int, error)
}

// LoggedDelivery is a delivery and its sequence number in a DeliveryLog.
type LoggedDelivery struct {
	Seq    uint64
	Record Record
	// Unreadable marks a delivery the log holds but can no longer read (sealed under a key
	// version since destroyed). Changes passes over it, so the next committed cursor removes it
	// instead of every later page stopping on it; the log reports it.
	Unreadable bool
}

// memoryDeliveries is the DeliveryLog of a connector built without one.
type memoryDeliveries struct {
	epoch string
	mu    sync.Mutex
	seq   uint64
	items []LoggedDelivery
}

func newMemoryDeliveries() (*memoryDeliveries, error) {
	epoch := make([]byte, 8)
	if _, err := rand.Read(epoch); err != nil {
		return nil, fmt.Errorf("connector: webhook: making queue epoch: %w", err)
	}
	return &memoryDeliveries{epoch: hex.EncodeToString(epoch)}, nil
}

func (m *memoryDeliveries) Epoch() string { return m.epoch }

func (m *memoryDeliveries) Append(_ context.Context, r Record) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	m.items = append(m.items, LoggedDelivery{Seq: m.seq, Record: r})
	return m.seq, nil
}

func (m *memoryDeliveries) After(_ context.Context, seq uint64, limit int) ([]LoggedDelivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []LoggedDelivery
	for _, d := range m.items {
		if d.Seq > seq && len(out) < limit {
			out = append(out, d)
		}
	}
	return out, nil
}

func (m *memoryDeliveries) Ack(_ context.Context, seq uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	acked := 0
	for acked < len(m.items) && m.items[acked].Seq <= seq {
		acked++
	}
	m.items = m.items[acked:]
	return nil
}

func (m *memoryDeliveries) Len(context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items), nil
}
