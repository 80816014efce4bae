package connector

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	webhookcodec "github.com/tenantwire/tenantwire/internal/connector/webhook"
	"github.com/tenantwire/tenantwire/internal/record"
)

var webhookCreds = Credentials{"signing_secret": []byte("shh\n")}

// receiverFor serves a webhook source over TLS and returns a destination posting to it.
func receiverFor(t *testing.T) (receiver *webhook, sender Connector) {
	t.Helper()
	srv := newFake(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { receiver.Handler().ServeHTTP(w, r) }))
	o := testOptions(srv.Server)
	receiver = mustNew(t, SystemWebhook, srv.URL+"/hook", webhookCreds, o).(*webhook)
	return receiver, mustNew(t, SystemWebhook, srv.URL+"/hook", webhookCreds, o)
}

func TestWebhookDeliversAndDrains(t *testing.T) {
	receiver, sender := receiverFor(t)
	r1 := Record{ID: "p1", PatientID: "p1", UpdatedAt: ts("2026-01-01T00:00:00Z"), IdempotencyKey: "key-p1",
		Patient: record.Patient{Source: record.Source{System: "cerbo", ID: "p1"}, Name: record.Name{Given: "A"}}}
	id1, err := sender.Upsert(context.Background(), "", r1)
	if err != nil || !strings.HasPrefix(id1, "twh_") || strings.Contains(id1, "p1") {
		t.Fatalf("Upsert = %q, %v; want a derived twh_ ID", id1, err)
	}
	// The same record again: acknowledged with the same ID, not queued twice.
	if again, err := sender.Upsert(context.Background(), id1, r1); err != nil || again != id1 {
		t.Fatalf("repeated Upsert = %q, %v; want %q", again, err, id1)
	}
	for _, id := range []string{"p2", "p3"} {
		if _, err := sender.Upsert(context.Background(), "", Record{ID: id, IdempotencyKey: "key-" + id}); err != nil {
			t.Fatal(err)
		}
	}
	pages := readAll(t, receiver)
	if got := ids(pages); len(got) != 3 || got[0] != id1 || len(pages) != 2 {
		t.Fatalf("drained %v over %d pages, want 3 records over 2", got, len(pages))
	}
	// The receiver knows the record by the delivery's ID only: the sender's patient ID never left.
	if f := pages[0].Records[0]; f.Patient.Name.Given != "A" || f.PatientID != id1 || f.Patient.Source.ID != id1 || !f.UpdatedAt.Equal(r1.UpdatedAt) {
		t.Errorf("first record = %+v", f)
	}
	// Committing the last cursor acknowledges everything.
	after, err := receiver.Changes(context.Background(), pages[1].Next)
	if err != nil || len(after.Records) != 0 || queued(t, receiver) != 0 {
		t.Errorf("after the last cursor: %+v, %v, %d queued; want empty", after, err, queued(t, receiver))
	}
	// A cursor of another pod's queue must not skip this queue's records.
	if _, err := sender.Upsert(context.Background(), "", Record{ID: "p4", IdempotencyKey: "key-p4"}); err != nil {
		t.Fatal(err)
	}
	foreign := encodeCursor(webhookCursor{Epoch: "old-pod", Seq: 99})
	if page, err := receiver.Changes(context.Background(), foreign); err != nil || len(page.Records) != 1 {
		t.Errorf("Changes(foreign cursor) = %+v, %v; want the new record", page, err)
	}
}

func TestWebhookDestinationUsesAnsweredID(t *testing.T) {
	var got http.Header
	var body []byte
	srv := newFake(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		body, _ = readBody(r)
		writeJSON(w, http.StatusCreated, map[string]string{"id": "remote-42"})
	}))
	c := mustNew(t, SystemWebhook, srv.URL+"/in", webhookCreds, testOptions(srv.Server))
	id, err := c.Upsert(context.Background(), "", Record{ID: "x", IdempotencyKey: "key-x", Patient: record.Patient{Email: "a@example.org"}})
	if err != nil || id != "remote-42" {
		t.Fatalf("Upsert = %q, %v; want the answered ID", id, err)
	}
	if want := "sha256=" + hex.EncodeToString(sign([]byte("shh"), body)); got.Get(SignatureHeader) != want {
		t.Errorf("signature = %q, want %q", got.Get(SignatureHeader), want)
	}
	var env webhookcodec.Delivery
	if err := json.Unmarshal(body, &env); err != nil || env.IdempotencyKey == "" || got.Get(IdempotencyKeyHeader) != env.IdempotencyKey {
		t.Errorf("Idempotency-Key %q, body key %q (%v)", got.Get(IdempotencyKeyHeader), env.IdempotencyKey, err)
	}
	if v, err := webhookcodec.CheckDelivery(body); err != nil || len(v) != 0 {
		t.Errorf("the delivery breaks the schema: %v, %v", v, err)
	}
	// A first delivery without the runtime's idempotency key has nothing to derive its ID from.
	if _, err := c.Upsert(context.Background(), "", Record{ID: "y"}); err == nil {
		t.Error("a first delivery without an idempotency key was sent")
	}
}

func readBody(r *http.Request) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(r.Body)
	return b.Bytes(), err
}

func TestWebhookHandlerRejects(t *testing.T) {
	now := ts("2026-03-01T12:00:00Z")
	o := Options{Now: func() time.Time { return now }}
	o.Webhook.MaxBodyBytes = 512
	c := mustNew(t, SystemWebhook, "https://example.invalid", webhookCreds, o)
	w := c.(*webhook)
	delivery := func(key string, sentAt time.Time, pad int) []byte {
		b, _ := json.Marshal(webhookcodec.Delivery{ID: "r1", IdempotencyKey: key, SentAt: sentAt, Patient: webhookcodec.Patient{Email: strings.Repeat("x", pad)}})
		return b
	}
	withPatient := func(patient string) []byte {
		return []byte(`{"id":"r9","idempotency_key":"k9","sent_at":"2026-03-01T12:00:00Z","updated_at":"2026-03-01T12:00:00Z","patient":` + patient + `}`)
	}
	rawObject, badSex := withPatient(`{"email":"a@example.org","clinical_notes":"xxxx"}`), withPatient(`{"sex":"xxxx"}`)
	signed := func(b []byte) string { return "sha256=" + hex.EncodeToString(sign([]byte("shh"), b)) }
	good := delivery("k1", now, 0)
	tests := []struct {
		name      string
		method    string
		body      []byte
		signature string
		want      int
		wantQueue int
	}{
		{"good signature is queued", http.MethodPost, good, signed(good), http.StatusAccepted, 1},
		{"replay of the same delivery is not queued again", http.MethodPost, good, signed(good), http.StatusOK, 1},
		{"bad signature", http.MethodPost, delivery("k2", now, 0), signed(good), http.StatusUnauthorized, 1},
		{"signature with another secret", http.MethodPost, good, "sha256=" + hex.EncodeToString(sign([]byte("other"), good)), http.StatusUnauthorized, 1},
		{"missing signature", http.MethodPost, good, "", http.StatusUnauthorized, 1},
		{"stale delivery", http.MethodPost, delivery("k3", now.Add(-time.Hour), 0), signed(delivery("k3", now.Add(-time.Hour), 0)), http.StatusUnauthorized, 1},
		{"oversize body", http.MethodPost, delivery("k4", now, 600), signed(delivery("k4", now, 600)), http.StatusRequestEntityTooLarge, 1},
		{"not a delivery", http.MethodPost, []byte(`{"id":""}`), signed([]byte(`{"id":""}`)), http.StatusBadRequest, 1},
		{"a property outside the schema", http.MethodPost, rawObject, signed(rawObject), http.StatusBadRequest, 1},
		{"a field value outside the schema", http.MethodPost, badSex, signed(badSex), http.StatusBadRequest, 1},
		{"GET", http.MethodGet, nil, "", http.StatusMethodNotAllowed, 1},
		{"second delivery is queued", http.MethodPost, delivery("k5", now, 0), signed(delivery("k5", now, 0)), http.StatusAccepted, 2},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, "/hook", bytes.NewReader(tt.body))
		if tt.signature != "" {
			req.Header.Set(SignatureHeader, tt.signature)
		}
		rec := httptest.NewRecorder()
		w.Handler().ServeHTTP(rec, req)
		if rec.Code != tt.want || queued(t, w) != tt.wantQueue {
			t.Errorf("%s: status %d with %d queued, want %d with %d", tt.name, rec.Code, queued(t, w), tt.want, tt.wantQueue)
		}
		if strings.Contains(rec.Body.String(), "xxxx") {
			t.Errorf("%s: answer echoes the body", tt.name)
		}
	}
}

func TestWebhookQueueFull(t *testing.T) {
	q, err := newWebhookQueue(2, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var results []enqueueResult
	for _, key := range []string{"a", "b", "c"} {
		res, _, _ := q.enqueue(context.Background(), Record{ID: key}, key, now, time.Minute)
		results = append(results, res)
	}
	if !slices.Equal(results, []enqueueResult{enqueued, enqueued, queueFull}) {
		t.Errorf("results = %v, want the third refused", results)
	}
}

func queued(t *testing.T, w *webhook) int {
	t.Helper()
	n, err := w.queue.log.Len(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// refusingLog is a DeliveryLog whose store is down.
type refusingLog struct{ *memoryDeliveries }

func (refusingLog) Append(context.Context, Record) (uint64, error) {
	return 0, errors.New("store down")
}

// A delivery the log cannot keep is not acknowledged: the sender gets 503 and keeps it.
func TestWebhookAnswers503WhenTheLogCannotKeepTheDelivery(t *testing.T) {
	now := ts("2026-03-01T12:00:00Z")
	mem, err := newMemoryDeliveries()
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Now: func() time.Time { return now }}
	o.Webhook.Deliveries = refusingLog{mem}
	w := mustNew(t, SystemWebhook, "https://example.invalid", webhookCreds, o).(*webhook)
	body, _ := json.Marshal(webhookcodec.Delivery{ID: "r1", IdempotencyKey: "k1", SentAt: now})
	req := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
	req.Header.Set(SignatureHeader, "sha256="+hex.EncodeToString(sign([]byte("shh"), body)))
	rec := httptest.NewRecorder()
	w.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("status %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Not remembered as seen: the sender's retry is kept once the store is back.
	if _, ok := w.queue.seen["k1"]; ok {
		t.Error("a delivery not kept is remembered as acknowledged")
	}
}
