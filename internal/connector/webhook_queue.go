package connector

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// webhookQueue holds pushed records until a committed cursor acknowledges them. It lives in
// memory: the handler answers 202 only once a record is queued, and records not yet committed when
// the pod stops are lost, so senders that need more must retry until their own check passes.
type webhookQueue struct {
	// epoch tells this queue's sequence numbers from those of a previous pod, whose cursor would
	// otherwise skip records of this one.
	epoch    string
	capacity int

	mu    sync.Mutex
	seq   uint64
	items []queuedRecord
	// seen maps idempotency keys to the ID answered, for the replay window.
	seen map[string]seenDelivery
}

type queuedRecord struct {
	seq    uint64
	record Record
}

type seenDelivery struct {
	id string
	at time.Time
}

// webhookCursor is the sequence number of the last record a page handed out.
type webhookCursor struct {
	Epoch string `json:"e"`
	Seq   uint64 `json:"s"`
}

func newWebhookQueue(capacity int) (*webhookQueue, error) {
	epoch := make([]byte, 8)
	if _, err := rand.Read(epoch); err != nil {
		return nil, fmt.Errorf("connector: webhook: making queue epoch: %w", err)
	}
	return &webhookQueue{epoch: hex.EncodeToString(epoch), capacity: capacity, seen: map[string]seenDelivery{}}, nil
}

// enqueueResult says what became of a delivery.
type enqueueResult int

const (
	enqueued enqueueResult = iota
	duplicate
	queueFull
)

// enqueue queues a record unless its idempotency key was seen within window (then it returns the
// ID first answered) or the queue is full.
func (q *webhookQueue) enqueue(r Record, key string, now time.Time, window time.Duration) (enqueueResult, string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for k, s := range q.seen {
		if now.Sub(s.at) > window {
			delete(q.seen, k)
		}
	}
	if s, ok := q.seen[key]; ok {
		return duplicate, s.id
	}
	if len(q.items) >= q.capacity {
		return queueFull, ""
	}
	q.seq++
	q.items = append(q.items, queuedRecord{seq: q.seq, record: r})
	q.seen[key] = seenDelivery{id: r.ID, at: now}
	return enqueued, r.ID
}

// changes drops the records the cursor acknowledges and returns the next page after them.
func (q *webhookQueue) changes(cursor string, pageSize int) (Page, error) {
	var cur webhookCursor
	if err := decodeCursor(SystemWebhook, cursor, &cur); err != nil {
		return Page{}, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if cur.Epoch != q.epoch {
		cur = webhookCursor{Epoch: q.epoch}
	}
	acked := 0
	for acked < len(q.items) && q.items[acked].seq <= cur.Seq {
		acked++
	}
	q.items = q.items[acked:]
	n := min(pageSize, len(q.items))
	page := Page{Records: make([]Record, 0, n), More: len(q.items) > n}
	next := cur
	for _, item := range q.items[:n] {
		page.Records = append(page.Records, item.record)
		next.Seq = item.seq
	}
	page.Next = encodeCursor(next)
	return page, nil
}
