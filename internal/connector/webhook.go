package connector

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
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

// webhookEnvelope is the body of a delivery, in both directions:
//
//	{"id": "...", "patient_id": "...", "updated_at": "<RFC 3339>", "fields": {...},
//	 "idempotency_key": "<hex>", "sent_at": "<RFC 3339>"}
//
// sent_at and idempotency_key are inside the signed body, so a replay cannot refresh its age or
// pass as a new delivery by editing a header.
type webhookEnvelope struct {
	ID             string         `json:"id"`
	PatientID      string         `json:"patient_id,omitempty"`
	UpdatedAt      time.Time      `json:"updated_at"`
	Fields         map[string]any `json:"fields"`
	IdempotencyKey string         `json:"idempotency_key"`
	SentAt         time.Time      `json:"sent_at"`
}

// webhook is a generic HTTPS endpoint. As a destination it POSTs each record, signed, to the URL;
// as a source it is pushed to: Handler verifies deliveries and keeps them in the DeliveryLog, and
// Changes drains the log. Serving the handler (with TLS) is the runtime's job.
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

// Upsert delivers a record. Without an ID the record gets one derived from its source ID, so a
// retried delivery targets the same record; the idempotency key covers the target and the content,
// so the receiver can drop a repeat.
func (w *webhook) Upsert(ctx context.Context, id string, r Record) (string, error) {
	if id == "" {
		id = webhookRecordID(r.ID)
	}
	key, err := webhookIdempotencyKey(id, r)
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(webhookEnvelope{
		ID: id, PatientID: r.PatientID, UpdatedAt: r.UpdatedAt.UTC(), Fields: r.Fields,
		IdempotencyKey: key, SentAt: w.opts.Now().UTC(),
	})
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

// webhookRecordID derives a destination ID that reveals nothing of the source ID.
func webhookRecordID(sourceID string) string {
	sum := sha256.Sum256([]byte("tenantwire-webhook-id\x00" + sourceID))
	return "twh_" + hex.EncodeToString(sum[:12])
}

func webhookIdempotencyKey(id string, r Record) (string, error) {
	// json.Marshal sorts map keys, so equal records give equal keys.
	b, err := json.Marshal(struct {
		ID        string         `json:"id"`
		PatientID string         `json:"patient_id"`
		UpdatedAt time.Time      `json:"updated_at"`
		Fields    map[string]any `json:"fields"`
	}{id, r.PatientID, r.UpdatedAt.UTC(), r.Fields})
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
