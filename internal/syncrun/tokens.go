package syncrun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/store"
)

// sealedRefreshTokens keeps a vendor's rotated refresh token in the mapping store, sealed with the
// keyring like everything else there, next to a digest of the mounted token it replaced. When the
// vault's token changes (someone authorized the app again), the mounted token wins.
type sealedRefreshTokens struct {
	store       store.Store
	codec       mappingseal.Codec
	integration string
}

type savedRefreshToken struct {
	Mounted string `json:"mounted"`
	Newest  string `json:"newest"`
}

const tokenIOTimeout = 10 * time.Second

func (t sealedRefreshTokens) name(system string) string {
	return store.SavedTokenPrefix + t.integration + "/" + system
}

func digestOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func (t sealedRefreshTokens) Load(system, mounted string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), tokenIOTimeout)
	defer cancel()
	sealed, err := t.store.Cursor(ctx, t.name(system))
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	plain, err := t.codec.OpenState(t.name(system), sealed)
	if errors.Is(err, mappingseal.ErrUnknownVersion) {
		// Sealed under a trimmed version: fall back to the mounted token.
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var saved savedRefreshToken
	if err := json.Unmarshal([]byte(plain), &saved); err != nil || saved.Mounted != digestOf(mounted) {
		return "", nil
	}
	return saved.Newest, nil
}

func (t sealedRefreshTokens) Save(system, mounted, newest string) error {
	ctx, cancel := context.WithTimeout(context.Background(), tokenIOTimeout)
	defer cancel()
	plain, err := json.Marshal(savedRefreshToken{Mounted: digestOf(mounted), Newest: newest})
	if err != nil {
		return err
	}
	sealed, err := t.codec.SealState(t.name(system), string(plain))
	if err != nil {
		return err
	}
	return t.store.SetCursor(ctx, t.name(system), sealed)
}
