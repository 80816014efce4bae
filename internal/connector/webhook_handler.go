package connector

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	webhookcodec "github.com/tenantwire/tenantwire/internal/connector/webhook"
	"github.com/tenantwire/tenantwire/internal/record"
)

// WebhookReceiver is implemented by connectors that are pushed to (webhook): the runtime serves
// Handler over TLS, and Changes drains what it received.
type WebhookReceiver interface {
	Handler() http.Handler
}

var _ WebhookReceiver = (*webhook)(nil)

// Handler receives pushed deliveries (see webhookEnvelope) for Changes to drain:
//
//   - 405 for anything but POST, 413 for a body over Options.Webhook.MaxBodyBytes;
//   - 401 when the signature does not match (compared in constant time) or sent_at is outside the
//     replay window;
//   - 400 for a body that is not a delivery: not the schema's properties (an unknown one
//     included), or a field value outside the schema, named without its value;
//   - 200 with the first answer's ID for an idempotency key seen within the window: the record is
//     not queued again;
//   - 503 with Retry-After while the queue is full, or when the DeliveryLog cannot keep it;
//   - 202 {"id": "..."} once the DeliveryLog holds the record (with the runtime's log: sealed
//     and committed in the mapping store, so a pod killed right after loses nothing).
//
// Answers never echo the body. Every request gets an access log line ("webhook request").
func (w *webhook) Handler() http.Handler {
	return http.HandlerFunc(w.receiveLogged)
}

func (w *webhook) receive(rw http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		writeAnswer(rw, http.StatusMethodNotAllowed, "error", "method not allowed")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, req.Body, w.opts.Webhook.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeAnswer(rw, http.StatusRequestEntityTooLarge, "error", "body too large")
			return
		}
		writeAnswer(rw, http.StatusBadRequest, "error", "body could not be read")
		return
	}
	if !w.validSignature(req.Header.Get(SignatureHeader), body) {
		writeAnswer(rw, http.StatusUnauthorized, "error", "bad signature")
		return
	}
	env, patient, problem := readDelivery(body)
	if problem != "" {
		writeAnswer(rw, http.StatusBadRequest, "error", problem)
		return
	}
	if h := req.Header.Get(IdempotencyKeyHeader); h != "" && h != env.IdempotencyKey {
		writeAnswer(rw, http.StatusBadRequest, "error", "Idempotency-Key header differs from the body's idempotency_key")
		return
	}
	now := w.opts.Now()
	window := w.opts.Webhook.ReplayWindow
	if age := now.Sub(env.SentAt); age > window || age < -window {
		writeAnswer(rw, http.StatusUnauthorized, "error", "stale delivery: sent_at is outside the replay window")
		return
	}
	patient.Source, patient.UpdatedAt = record.Source{System: SystemWebhook, ID: env.ID}, env.UpdatedAt.UTC()
	rec := canonicalRecord(patient)
	result, id, err := w.queue.enqueue(req.Context(), rec, env.IdempotencyKey, now, window)
	switch result {
	case duplicate:
		writeAnswer(rw, http.StatusOK, "id", id)
	case queueFull:
		rw.Header().Set("Retry-After", "30")
		writeAnswer(rw, http.StatusServiceUnavailable, "error", "queue full")
	case notKept:
		w.api.log.Error(err, "webhook delivery not kept: the store refused it; the sender retries")
		rw.Header().Set("Retry-After", "30")
		writeAnswer(rw, http.StatusServiceUnavailable, "error", "delivery could not be stored")
	default:
		writeAnswer(rw, http.StatusAccepted, "id", id)
	}
}

// readDelivery parses a delivery strictly: only the schema's properties, and field values the
// canonical record can hold. The problem it reports names properties, never values.
func readDelivery(body []byte) (webhookcodec.Delivery, record.Patient, string) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var env webhookcodec.Delivery
	if err := dec.Decode(&env); err != nil {
		return env, record.Patient{}, "not a delivery: the body must be a JSON object of the delivery schema, without other properties"
	}
	if env.ID == "" || env.IdempotencyKey == "" || env.SentAt.IsZero() {
		return env, record.Patient{}, "not a delivery: id, idempotency_key and sent_at are required"
	}
	patient, err := webhookcodec.Decode(env.Patient)
	if err != nil {
		return env, record.Patient{}, "not a delivery: " + err.Error()
	}
	return env, patient, ""
}

func (w *webhook) validSignature(header string, body []byte) bool {
	given, ok := strings.CutPrefix(header, signaturePrefix)
	if !ok {
		return false
	}
	mac, err := hex.DecodeString(given)
	if err != nil {
		return false
	}
	return hmac.Equal(mac, sign(w.secret, body))
}

func writeAnswer(rw http.ResponseWriter, status int, key, value string) {
	if rec, ok := rw.(*accessRecorder); ok && key == "error" {
		rec.refusal = value
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(map[string]string{key: value})
}
