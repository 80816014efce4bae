package connector

import (
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
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
//   - 400 for a body that is not a delivery;
//   - 200 with the first answer's ID for an idempotency key seen within the window: the record is
//     not queued again;
//   - 503 with Retry-After while the queue is full, or when the DeliveryLog cannot keep it;
//   - 202 {"id": "..."} once the DeliveryLog holds the record (with the runtime's log: sealed
//     and committed in the mapping store, so a pod killed right after loses nothing).
//
// Answers never echo the body.
func (w *webhook) Handler() http.Handler {
	return http.HandlerFunc(w.receive)
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
		w.api.log.Info("webhook delivery refused: bad signature", "remote", req.RemoteAddr)
		writeAnswer(rw, http.StatusUnauthorized, "error", "bad signature")
		return
	}
	var env webhookEnvelope
	if err := json.Unmarshal(body, &env); err != nil || env.ID == "" || env.IdempotencyKey == "" || env.SentAt.IsZero() {
		writeAnswer(rw, http.StatusBadRequest, "error", "not a delivery: id, idempotency_key and sent_at are required")
		return
	}
	if h := req.Header.Get(IdempotencyKeyHeader); h != "" && h != env.IdempotencyKey {
		writeAnswer(rw, http.StatusBadRequest, "error", "Idempotency-Key header differs from the body's idempotency_key")
		return
	}
	now := w.opts.Now()
	window := w.opts.Webhook.ReplayWindow
	if age := now.Sub(env.SentAt); age > window || age < -window {
		w.api.log.Info("webhook delivery refused: sent_at outside the replay window", "remote", req.RemoteAddr)
		writeAnswer(rw, http.StatusUnauthorized, "error", "stale delivery: sent_at is outside the replay window")
		return
	}
	record := Record{ID: env.ID, PatientID: env.PatientID, UpdatedAt: env.UpdatedAt, Fields: env.Fields}
	result, id, err := w.queue.enqueue(req.Context(), record, env.IdempotencyKey, now, window)
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
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(map[string]string{key: value})
}
