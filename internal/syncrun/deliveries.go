package syncrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-logr/logr"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/store"
)

// ConnectorStores are what the runtime keeps for its connectors in the mapping store, sealed with
// the keyring like everything there.
type ConnectorStores struct {
	// RefreshTokens keeps rotated OAuth2 refresh tokens across restarts.
	RefreshTokens connector.RefreshTokenStore
	// Deliveries keeps a webhook source's received deliveries until the sync has written them.
	Deliveries connector.DeliveryLog
}

// sealedDeliveries is the runtime's DeliveryLog: each delivery is sealed and committed in the
// store before the webhook handler answers 202, read back by the sync cycle, and deleted once a
// committed cursor covers it (after its destination write and mapping row). A pod killed between
// the answer and the sync loses nothing: the next pod over the same store syncs it.
type sealedDeliveries struct {
	store store.Store
	codec mappingseal.Codec
	// queue is the Integration: Integrations of a tenant may share a PostgreSQL store.
	queue string
	log   logr.Logger
}

var _ connector.DeliveryLog = sealedDeliveries{}

// Epoch is constant: the store's sequence numbers never restart, so a cursor committed by an
// earlier pod stays valid.
func (d sealedDeliveries) Epoch() string { return "store" }

func (d sealedDeliveries) Append(ctx context.Context, r connector.Record) (uint64, error) {
	plain, err := json.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("encoding the delivery: %w", err)
	}
	sealed, err := d.codec.SealState(deliveryStateName(d.queue), string(plain))
	if err != nil {
		return 0, fmt.Errorf("sealing the delivery: %w", err)
	}
	seq, err := d.store.AppendDelivery(ctx, d.queue, sealed)
	if err != nil {
		return 0, fmt.Errorf("storing the delivery: %w", err)
	}
	return uint64(seq), nil
}

func (d sealedDeliveries) After(ctx context.Context, seq uint64, limit int) ([]connector.LoggedDelivery, error) {
	rows, err := d.store.Deliveries(ctx, d.queue, int64(seq), limit)
	if err != nil {
		return nil, fmt.Errorf("reading deliveries: %w", err)
	}
	out := make([]connector.LoggedDelivery, 0, len(rows))
	for _, row := range rows {
		plain, err := d.codec.OpenState(deliveryStateName(d.queue), row.Sealed)
		if errors.Is(err, mappingseal.ErrUnknownVersion) {
			// Sealed under a version trimmed before any pod could rewrap it: it can never be read.
			// Counted (sealed-state metrics), said here, and passed over, so the cursor after it
			// removes it instead of every later page stopping on it.
			d.log.Error(err, "a webhook delivery is under a key version the keyring no longer holds; it is lost", "sequence", row.Seq)
			out = append(out, connector.LoggedDelivery{Seq: uint64(row.Seq), Unreadable: true})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("opening delivery %d: %w", row.Seq, err)
		}
		var r connector.Record
		if err := json.Unmarshal([]byte(plain), &r); err != nil {
			return nil, fmt.Errorf("decoding delivery %d: %w", row.Seq, mappingseal.ErrMalformed)
		}
		out = append(out, connector.LoggedDelivery{Seq: uint64(row.Seq), Record: r})
	}
	return out, nil
}

func (d sealedDeliveries) Ack(ctx context.Context, seq uint64) error {
	return d.store.DeleteDeliveries(ctx, d.queue, int64(seq))
}

func (d sealedDeliveries) Len(ctx context.Context) (int, error) {
	n, err := d.store.CountDeliveries(ctx, d.queue)
	return int(n), err
}
