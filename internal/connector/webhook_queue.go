package connector

import (
	"context"
	"sync"
	"time"
)

// webhookQueue admits pushed records into a DeliveryLog, deduplicating repeats within the replay
// window, and pages through the log for Changes; a committed cursor acknowledges what it covers.
type webhookQueue struct {
	log      DeliveryLog
	capacity int

	// mu serialises appends with listings, so a page never hands out a sequence number while a
	// smaller one is still being written (the cursor after it would acknowledge the smaller one).
	mu sync.Mutex
	// seen maps idempotency keys to the ID answered, for the replay window. It lives in memory: a
	// repeat that reaches a new process is queued again, and the sync finds its patient through
	// the mapping and updates the record instead of creating it twice.
	seen map[string]seenDelivery
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

func newWebhookQueue(capacity int, log DeliveryLog) (*webhookQueue, error) {
	if log == nil {
		m, err := newMemoryDeliveries()
		if err != nil {
			return nil, err
		}
		log = m
	}
	return &webhookQueue{log: log, capacity: capacity, seen: map[string]seenDelivery{}}, nil
}

// enqueueResult says what became of a delivery.
type enqueueResult int

const (
	enqueued enqueueResult = iota
	duplicate
	queueFull
	// notKept means the log could not keep the delivery; the sender keeps it and retries.
	notKept
)

// enqueue keeps a record in the log unless its idempotency key was seen within window (then it
// returns the ID first answered) or the queue is full. It returns enqueued only once the log holds
// the record.
func (q *webhookQueue) enqueue(ctx context.Context, r Record, key string, now time.Time, window time.Duration) (enqueueResult, string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for k, s := range q.seen {
		if now.Sub(s.at) > window {
			delete(q.seen, k)
		}
	}
	if s, ok := q.seen[key]; ok {
		return duplicate, s.id, nil
	}
	n, err := q.log.Len(ctx)
	if err != nil {
		return notKept, "", err
	}
	if n >= q.capacity {
		return queueFull, "", nil
	}
	if _, err := q.log.Append(ctx, r); err != nil {
		return notKept, "", err
	}
	q.seen[key] = seenDelivery{id: r.ID, at: now}
	return enqueued, r.ID, nil
}

// changes drops the records the cursor acknowledges and returns the next page after them.
func (q *webhookQueue) changes(ctx context.Context, cursor string, pageSize int) (Page, error) {
	var cur webhookCursor
	if err := decodeCursor(SystemWebhook, cursor, &cur); err != nil {
		return Page{}, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if cur.Epoch != q.log.Epoch() {
		cur = webhookCursor{Epoch: q.log.Epoch()}
	}
	if cur.Seq > 0 {
		if err := q.log.Ack(ctx, cur.Seq); err != nil {
			return Page{}, err
		}
	}
	items, err := q.log.After(ctx, cur.Seq, pageSize+1)
	if err != nil {
		return Page{}, err
	}
	n := min(pageSize, len(items))
	page := Page{Records: make([]Record, 0, n), More: len(items) > n}
	next := cur
	for _, item := range items[:n] {
		if !item.Unreadable {
			page.Records = append(page.Records, item.Record)
		}
		next.Seq = item.Seq
	}
	page.Next = encodeCursor(next)
	return page, nil
}
