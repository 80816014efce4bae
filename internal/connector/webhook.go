package connector

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	webhookcodec "github.com/tenantwire/tenantwire/internal/connector/webhook"
)

// The webhook's credential file: the HMAC-SHA256 key both ends share.
const credWebhookSigningSecret = "signing_secret"

// The webhook's headers.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body under the signing
	// secret.
	SignatureHeader = "X-Tenantwire-Signature"
	// IdempotencyKeyHeader repeats the body's idempotency_key for receivers that dedupe on headers.
	IdempotencyKeyHeader = "Idempotency-Key"
	signaturePrefix      = "sha256="
)

// webhook is a generic HTTPS endpoint. The body of a delivery, in both directions, is
// webhookcodec.Delivery (schema in internal/connector/webhook/testdata/delivery.schema.json):
//
//	{"id": "...", "updated_at": "<RFC 3339>", "patient": {<authorized canonical fields>},
//	 "idempotency_key": "<hex>", "sent_at": "<RFC 3339>"}
//
// sent_at and idempotency_key are inside the signed body, so a replay cannot refresh its age or
// pass as a new delivery by editing a header. No ID of another system is in it.
//
// As a destination it POSTs each record, signed, to the URL; as a source it is pushed to: Handler
// verifies deliveries and keeps them in the DeliveryLog, and Changes drains the log. Serving the
// handler (with TLS) is the runtime's job.
type webhook struct {
	api    *apiClient
	secret []byte
	opts   Options
	queue  *webhookQueue
}

func newWebhook(base *url.URL, creds Credentials, httpClient *http.Client, o Options) (*webhook, error) {
	if err := creds.require(SystemWebhook, credWebhookSigningSecret); err != nil {
		return nil, err
	}
	queue, err := newWebhookQueue(o.Webhook.QueueCapacity, o.Webhook.Deliveries)
	if err != nil {
		return nil, err
	}
	api := newAPIClient(SystemWebhook, base, httpClient, noAuth{}, o)
	api.errorCode = func(body []byte) string { return errorCodeOf(body, "code", "error") }
	return &webhook{api: api, secret: []byte(creds.value(credWebhookSigningSecret)), opts: o, queue: queue}, nil
}

func (w *webhook) System() string { return SystemWebhook }

// Upsert delivers a record's canonical patient. Without an ID the record gets one derived from
// the runtime's idempotency key for the patient (keyed under the tenant's keyring), so a retried
// delivery targets the same record and the ID reveals nothing of the source's patient ID, which
// a plain hash of a small integer would. The delivery's idempotency key covers the target and the
// content, so the receiver can drop a repeat.
func (w *webhook) Upsert(ctx context.Context, id string, r Record) (string, error) {
	if id == "" {
		if r.IdempotencyKey == "" {
			return "", errors.New("connector: webhook: deliver record: a first delivery needs the runtime's idempotency key to derive its ID")
		}
		id = webhookRecordID(r.IdempotencyKey)
	}
	d := webhookcodec.Delivery{ID: id, UpdatedAt: r.UpdatedAt.UTC(), Patient: webhookcodec.Encode(r.Patient), SentAt: w.opts.Now().UTC()}
	key, err := webhookIdempotencyKey(d)
	if err != nil {
		return "", err
	}
	d.IdempotencyKey = key
	body, err := json.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("connector: webhook: encoding delivery: %w", err)
	}
	header := http.Header{}
	header.Set(SignatureHeader, signaturePrefix+hex.EncodeToString(sign(w.secret, body)))
	header.Set(IdempotencyKeyHeader, key)
	var out map[string]any
	if _, err := w.api.do(ctx, call{op: "deliver record", method: http.MethodPost, rawBody: body, header: header, out: &out}); err != nil {
		return "", err
	}
	if answered := stringField(out, "id"); answered != "" {
		return answered, nil
	}
	return id, nil
}

// webhookRecordID derives a destination ID from the runtime's idempotency key of a patient, an
// HMAC under the tenant's keyring: stable across retries, and unlinkable to the source's ID.
func webhookRecordID(idempotencyKey string) string {
	sum := sha256.Sum256([]byte("tenantwire-webhook-id\x00" + idempotencyKey))
	return "twh_" + hex.EncodeToString(sum[:12])
}

// webhookIdempotencyKey is the hex SHA-256 of a delivery's id, updated_at and patient: equal
// deliveries give equal keys (struct fields encode in a fixed order).
func webhookIdempotencyKey(d webhookcodec.Delivery) (string, error) {
	b, err := json.Marshal(struct {
		ID        string               `json:"id"`
		UpdatedAt time.Time            `json:"updated_at"`
		Patient   webhookcodec.Patient `json:"patient"`
	}{d.ID, d.UpdatedAt, d.Patient})
	if err != nil {
		return "", fmt.Errorf("connector: webhook: encoding record for its idempotency key: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func sign(secret, body []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return mac.Sum(nil)
}

func (w *webhook) Changes(ctx context.Context, cursor string) (Page, error) {
	if err := ctx.Err(); err != nil {
		return Page{}, err
	}
	return w.queue.changes(ctx, cursor, w.opts.PageSize)
}
