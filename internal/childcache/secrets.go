package childcache

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/labels"
)

// DataDigestKey is the only data key of an Integration's credential Secret in the cache, and its
// value is the SecretDataDigest of the data the Secret holds. Secret data keys cannot contain a
// slash, so no Secret read from the API server carries this key.
const DataDigestKey = "tenantwire.io/data-sha256"

// SecretDataDigest digests a Secret's data: every key and its value in key order, each
// length-prefixed so that ("ab","c") and ("a","bc") differ. Of a credential Secret from the cache
// it returns the digest the cache kept, which is the digest of the same Secret read whole: callers
// need not know which of the two they hold.
func SecretDataDigest(s *corev1.Secret) []byte {
	if d, ok := keptDigest(s); ok {
		return d
	}
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(s.Data)) {
		writeField(h, []byte(k))
		writeField(h, s.Data[k])
	}
	return h.Sum(nil)
}

func keptDigest(s *corev1.Secret) ([]byte, bool) {
	d, ok := s.Data[DataDigestKey]
	return d, ok && len(s.Data) == 1
}

// writeField writes b's length, then b.
func writeField(h hash.Hash, b []byte) {
	_, _ = h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(b))))
	_, _ = h.Write(b)
}

// slimSecret keeps of our Secrets what the controllers read. An Integration's credential Secrets
// (synced by External Secrets Operator from our ExternalSecrets) only feed the rollout hash and
// tell that they exist, so their data becomes its digest: at 1000 tenants they are six Secrets in
// seven. The keyring keeps its data (the KeyPolicy controller parses it) and its active version
// (the Integrations' pod templates carry it); the key source and any other Secret keep their data.
// No other annotation is read, nor the labels External Secrets Operator adds: its created-by label
// differs from Secret to Secret, and without it a credential Secret has the label set of its
// ExternalSecret and shares it.
func slimSecret(s *corev1.Secret) {
	if s.Labels[labels.Component] == labels.CredentialsComponent && s.Labels[labels.Integration] != "" {
		if _, slim := keptDigest(s); !slim {
			s.Data = map[string][]byte{DataDigestKey: SecretDataDigest(s)}
		}
		s.StringData = nil
	}
	if s.Labels[labels.Component] == labels.RotatedTokenComponent {
		// Refresh tokens a sync pod wrote back: no controller reads them.
		s.Data, s.StringData = nil, nil
	}
	s.Labels = withoutESOLabels(s.Labels)
	active, ok := s.Annotations[keyring.ActiveVersionAnnotation]
	slimMeta(s)
	if ok {
		// Versions repeat from tenant to tenant, so this map is shared like the label sets.
		s.Annotations = labelSets.share(map[string]string{keyring.ActiveVersionAnnotation: active})
	}
}

// esoLabelPrefix is the prefix of the labels External Secrets Operator puts on the Secrets it syncs
// (esv1.LabelManaged, esv1.LabelOwner).
const esoLabelPrefix = "reconcile.external-secrets.io/"

// withoutESOLabels returns m, or a copy of it without ESO's labels: m may be a map the cache
// already shares.
func withoutESOLabels(m map[string]string) map[string]string {
	for k := range m {
		if strings.HasPrefix(k, esoLabelPrefix) {
			own := maps.Clone(m)
			maps.DeleteFunc(own, func(k, _ string) bool { return strings.HasPrefix(k, esoLabelPrefix) })
			return own
		}
	}
	return m
}
