package syncrun

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/record"
	"github.com/tenantwire/tenantwire/internal/store"
)

const webhookSecret = "hook-secret"

// webhookRuntime is the part of one sync pod a webhook delivery passes through: the store, the
// webhook source built as the runtime builds it, and a Syncer draining it.
type webhookRuntime struct {
	store  store.Store
	source connector.Connector
	syncer *Syncer
}

func startWebhookRuntime(t *testing.T, dsn string, k *keyring.Keyring, dst *memoryDestination, now time.Time) webhookRuntime {
	t.Helper()
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	codec := mappingseal.Codec{Tenant: "acme", Keyring: k}
	stores := ConnectorStores{Deliveries: sealedDeliveries{store: st, codec: codec, queue: "hook-to-quickbooks", log: testr.New(t)}}
	src, err := connector.New(connector.SystemWebhook, "https://hook.example.invalid", connector.Credentials{"signing_secret": []byte(webhookSecret)},
		connector.Options{Now: func() time.Time { return now }, Webhook: connector.WebhookOptions{Deliveries: stores.Deliveries}})
	if err != nil {
		t.Fatal(err)
	}
	s := &Syncer{
		Integration: "hook-to-quickbooks", SourceSystem: connector.SystemWebhook, DestSystem: "quickbooks",
		Source: src, Destination: dst, Store: st, Codec: codec, Metrics: NewMetrics(), Log: testr.New(t), Now: time.Now,
		Fields: record.DefaultMinimum(),
	}
	return webhookRuntime{store: st, source: src, syncer: s}
}

func (r webhookRuntime) deliver(t *testing.T, id string, now time.Time) int {
	t.Helper()
	body, err := json.Marshal(map[string]any{"id": id, "updated_at": now, "sent_at": now,
		"idempotency_key": "key-" + id, "patient": map[string]any{"name": map[string]any{"given": "Adalinde", "family": "Lovelace"}}})
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(webhookSecret))
	mac.Write(body)
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set(connector.SignatureHeader, "sha256="+hex.EncodeToString(mac.Sum(nil)))
	rec := httptest.NewRecorder()
	r.source.(connector.WebhookReceiver).Handler().ServeHTTP(rec, req)
	return rec.Code
}

// A delivery acknowledged with 202 survives a pod killed before any cycle ran: the next pod over
// the same store syncs it, exactly once, and a rotation in between changes nothing.
func TestAcknowledgedWebhookDeliverySurvivesAKill(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "mapping.db")
	now := time.Now().UTC()
	k1 := newKeyring(t, 1, 1)
	dst := newMemoryDestination()

	first := startWebhookRuntime(t, dsn, k1, dst, now)
	if code := first.deliver(t, "patient-73910482", now); code != http.StatusAccepted {
		t.Fatalf("delivery answered %d, want 202", code)
	}
	raw, err := first.store.Deliveries(ctx, "", 0, 10)
	// The planted name and ID are long, and the ID holds a character base64 has not, so the
	// ciphertext cannot hold either by chance.
	if err != nil || len(raw) != 1 || strings.Contains(raw[0].Sealed, "Adalinde") || strings.Contains(raw[0].Sealed, "patient-73910482") {
		t.Fatalf("stored deliveries %+v, %v; want one, sealed", raw, err)
	}
	// Killed: the handler and its queue are dropped without a cycle.
	_ = first.store.Close()

	m, err := keyring.NewMaterial(nil)
	if err != nil {
		t.Fatal(err)
	}
	k2 := keyring.Rotate(k1, k1.Algorithm, m, now, 1)
	second := startWebhookRuntime(t, dsn, k2, dst, now)
	if _, err := RewrapRetained(ctx, second.store, second.syncer.Codec, second.syncer.Metrics); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := second.syncer.Cycle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if dst.creates != 1 || dst.updates != 0 {
		t.Fatalf("destination saw %d creates and %d updates, want the acknowledged delivery created once", dst.creates, dst.updates)
	}
	if n, err := second.store.CountDeliveries(ctx, "hook-to-quickbooks"); err != nil || n != 0 {
		t.Errorf("%d deliveries left after the sync (%v); want them deleted", n, err)
	}
	_ = second.store.Close()

	third := startWebhookRuntime(t, dsn, k2, dst, now)
	if res, err := third.syncer.Cycle(ctx); err != nil || res.Created+res.Updated != 0 {
		t.Errorf("a later pod's cycle = %+v, %v; want nothing to sync again", res, err)
	}
}

// A delivery sealed under a key version since destroyed is reported and passed over: the deliveries
// after it are synced, and the committed cursor removes it.
func TestUnreadableDeliveryDoesNotStopTheQueue(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "mapping.db")
	now := time.Now().UTC()
	k1 := newKeyring(t, 1, 0)
	dst := newMemoryDestination()
	first := startWebhookRuntime(t, dsn, k1, dst, now)
	if code := first.deliver(t, "p1", now); code != http.StatusAccepted {
		t.Fatalf("delivery answered %d, want 202", code)
	}
	_ = first.store.Close()

	m, err := keyring.NewMaterial(nil)
	if err != nil {
		t.Fatal(err)
	}
	k2 := keyring.Rotate(k1, k1.Algorithm, m, now, 0) // version 1 destroyed before any rewrap
	second := startWebhookRuntime(t, dsn, k2, dst, now)
	if code := second.deliver(t, "p2", now); code != http.StatusAccepted {
		t.Fatalf("delivery answered %d, want 202", code)
	}
	for range 2 {
		if _, err := second.syncer.Cycle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if dst.creates != 1 {
		t.Errorf("destination saw %d creates, want the readable delivery only", dst.creates)
	}
	if n, err := second.store.CountDeliveries(ctx, "hook-to-quickbooks"); err != nil || n != 0 {
		t.Errorf("%d deliveries left (%v); want the unreadable one removed with the rest", n, err)
	}
}
