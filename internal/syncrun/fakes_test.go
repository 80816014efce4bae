package syncrun

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/record"
	"github.com/tenantwire/tenantwire/internal/store"
)

// pagedSource serves fixed records, pageSize per page; the cursor is the index of the next record.
type pagedSource struct {
	records  []connector.Record
	pageSize int
	// failAt, when >= 0, makes the listing starting at that index fail.
	failAt int
}

func (p *pagedSource) Changes(_ context.Context, cursor string) (connector.Page, error) {
	start := 0
	if cursor != "" {
		var err error
		if start, err = strconv.Atoi(cursor); err != nil {
			return connector.Page{}, err
		}
	}
	if start == p.failAt {
		return connector.Page{}, errors.New("source unavailable")
	}
	end := min(start+p.pageSize, len(p.records))
	return connector.Page{Records: p.records[start:end], Next: strconv.Itoa(end), More: end < len(p.records)}, nil
}

// memoryDestination keeps records by ID and counts creates and updates.
type memoryDestination struct {
	mu               sync.Mutex
	byID             map[string]connector.Record
	byKey            map[string]string
	creates, updates int
	// reject refuses records with these IDs for good; failOn fails them transiently.
	reject, failOn map[string]bool
	// onUpsert runs before each write (tests cancel contexts from it).
	onUpsert func(n int)
	calls    int
}

func newMemoryDestination() *memoryDestination {
	return &memoryDestination{byID: map[string]connector.Record{}, byKey: map[string]string{}, reject: map[string]bool{}, failOn: map[string]bool{}}
}

func (d *memoryDestination) Upsert(_ context.Context, id string, r connector.Record) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.onUpsert != nil {
		d.onUpsert(d.calls)
	}
	if d.reject[r.ID] {
		return "", &connector.RejectedError{System: "quickbooks", Op: "upsert", Code: "ValidationFault"}
	}
	if d.failOn[r.ID] {
		return "", errors.New("503 service unavailable")
	}
	if id == "" {
		// Like QuickBooks' requestid: a repeated create answers with the first one's record.
		if prev, ok := d.byKey[r.IdempotencyKey]; ok && r.IdempotencyKey != "" {
			return prev, nil
		}
		d.creates++
		id = "dest-" + strconv.Itoa(d.creates)
		if r.IdempotencyKey != "" {
			d.byKey[r.IdempotencyKey] = id
		}
	} else {
		if _, ok := d.byID[id]; !ok {
			return "", &connector.StatusError{System: "quickbooks", Op: "update " + id, Status: 404}
		}
		d.updates++
	}
	d.byID[id] = r
	return id, nil
}

func patients(n int) []connector.Record {
	out := make([]connector.Record, n)
	for i := range out {
		id := "p" + strconv.Itoa(i)
		out[i] = connector.Record{ID: id, PatientID: id,
			Patient: record.Patient{Source: record.Source{System: "cerbo", ID: id}, Name: record.Name{Given: "Patient", Family: id}}}
	}
	return out
}

func newKeyring(t *testing.T, versions int, retain int) *keyring.Keyring {
	t.Helper()
	var k *keyring.Keyring
	for i := range versions {
		m, err := keyring.NewMaterial(nil)
		if err != nil {
			t.Fatal(err)
		}
		k = keyring.Rotate(k, "AES-256-GCM", m, time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC), retain)
	}
	return k
}

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), "sqlite://"+t.TempDir()+"/mapping.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newSyncer(t *testing.T, src connector.Source, dst connector.Destination, st store.Store, k *keyring.Keyring) *Syncer {
	return &Syncer{
		Integration: "cerbo-to-quickbooks", SourceSystem: "cerbo", DestSystem: "quickbooks",
		Source: src, Destination: dst, Fields: record.DefaultMinimum(), Store: st, Codec: mappingseal.Codec{Tenant: "acme", Keyring: k},
		Metrics: NewMetrics(), Log: testr.New(t), Now: time.Now,
	}
}

// crashingStore fails mapping writes after the first failAfter of them, as a pod killed between a
// destination write and its mapping row would leave things.
type crashingStore struct {
	store.Store
	failAfter, upserts int
}

func (c *crashingStore) Upsert(ctx context.Context, token []byte, v store.Value) error {
	c.upserts++
	if c.failAfter >= 0 && c.upserts > c.failAfter {
		return errors.New("killed")
	}
	return c.Store.Upsert(ctx, token, v)
}

// WriteRows fails as Upsert does, counting each row. Past failAfter it writes the rows before the
// failing one and then fails: harsher than the store's one transaction, which writes all or none,
// so the tests also cover a store that committed part of a batch's rows.
func (c *crashingStore) WriteRows(ctx context.Context, upserts []store.Row, deletes [][]byte) error {
	for i := range upserts {
		c.upserts++
		if c.failAfter >= 0 && c.upserts > c.failAfter {
			return errors.Join(c.Store.WriteRows(ctx, upserts[:i], nil), errors.New("killed"))
		}
	}
	return c.Store.WriteRows(ctx, upserts, deletes)
}

// failingStore fails its failAt-th write (a batch's mapping rows or a cursor, counted together)
// and every one after it, as a store that went down would; each write is all or nothing.
type failingStore struct {
	store.Store
	mu             sync.Mutex
	failAt, writes int
}

func (f *failingStore) down() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	return f.failAt > 0 && f.writes >= f.failAt
}

func (f *failingStore) WriteRows(ctx context.Context, upserts []store.Row, deletes [][]byte) error {
	if f.down() {
		return errors.New("store down")
	}
	return f.Store.WriteRows(ctx, upserts, deletes)
}

func (f *failingStore) SetCursor(ctx context.Context, name, value string) error {
	if f.down() {
		return errors.New("store down")
	}
	return f.Store.SetCursor(ctx, name, value)
}

// up ends the outage.
func (f *failingStore) up() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failAt = 0
}
