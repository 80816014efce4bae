package integration

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tenantwire/tenantwire/internal/childcache"
)

// credentialsHash digests the credential Secrets (in the order given): each one's name and the
// digest of its data (childcache.SecretDataDigest), which is all the cache keeps of their data. The
// same data always gives the same hash, whatever the order of keys or a refresh that changed
// nothing, and any changed byte gives a new one.
func credentialsHash(secrets ...*corev1.Secret) string {
	h := sha256.New()
	for _, s := range secrets {
		writeField(h, []byte(s.Name))
		writeField(h, childcache.SecretDataDigest(s))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// wholeCredentialsHash is how operator versions that cached the Secrets' data hashed them: all
// names, keys and values in one digest. Pod templates they rolled still carry it.
func wholeCredentialsHash(secrets ...*corev1.Secret) string {
	h := sha256.New()
	for _, s := range secrets {
		writeField(h, []byte(s.Name))
		for _, k := range slices.Sorted(maps.Keys(s.Data)) {
			writeField(h, []byte(k))
			writeField(h, s.Data[k])
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// writeField length-prefixes each field so that ("ab","c") and ("a","bc") digest differently.
func writeField(h hash.Hash, b []byte) {
	_, _ = h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(b))))
	_, _ = h.Write(b)
}

// carriedHash pairs the credentials hash of an Integration's Secrets with the hash in the older
// form (wholeCredentialsHash) of the same data.
type carriedHash struct{ current, whole string }

// carriesCredentials reports whether previous, the hash on the live pod template, is the older form
// of current: the pods already run on these credentials and need no rollout. An upgrade of the
// operator therefore rolls no sync Deployment. Telling costs one uncached read of the Secrets, once
// per Integration and data: the answer is remembered until the Secrets change.
func (r *Reconciler) carriesCredentials(ctx context.Context, key client.ObjectKey, secrets []*corev1.Secret, previous, current string) (bool, error) {
	if c, ok := r.carriedHashes.Load(key); ok && c.(carriedHash).current == current {
		return c.(carriedHash).whole == previous, nil
	}
	whole := make([]*corev1.Secret, 0, len(secrets))
	for _, s := range secrets {
		live := &corev1.Secret{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(s), live); err != nil {
			// Gone since the cache saw it: the next reconcile waits for it.
			return false, client.IgnoreNotFound(err)
		}
		whole = append(whole, live)
	}
	if credentialsHash(whole...) != current {
		// The Secrets changed after the cache saw them: roll, and hash again when it has.
		return false, nil
	}
	h := wholeCredentialsHash(whole...)
	r.carriedHashes.Store(key, carriedHash{current: current, whole: h})
	return h == previous, nil
}
