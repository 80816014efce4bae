package childcache

import (
	"encoding/binary"
	"hash"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Stamp identifies one version of a child as far as the fields its controller applies go: a
// write that cannot have touched them leaves it unchanged. apply.Applier compares it with the
// stamp of the version it last verified, and reads the child back (an uncached GET) only when it
// moved; the watches wake controllers only when it moved. At 1000 tenants, the writes other
// controllers make to our children's status (ESO to ExternalSecrets, the Deployment controller,
// the quota controller to ResourceQuotas) moved every child's resourceVersion some three times and
// cost 21000 read-backs.
//
// Stamp must give the same value for an object from the API server (a read, an apply response)
// and for the same version as the cache or the watch holds it, so it is computed from what both
// have, which depends on the kind (StampRule):
//
//   - A watched kind (WatchedKinds) is stamped by its metadata, which the watch receives whole:
//     its UID, generation, labels, annotations, owner references, deletion, and its managedFields
//     but the status subresource's entries and the entries' times. A write by anyone to a field
//     we apply takes the field from our field manager's entry, so the entries change; a status
//     write touches only the status entries.
//   - A cached kind with a generation that tracks its spec, and whose labels and owner references
//     the cache keeps (Contracts), is stamped by its UID, generation, labels, owner references and
//     deletion. Its annotations are not in the cache: an edit of annotations alone is repaired on
//     the next change of our intent, or after a restart.
//   - Any other (a Secret, a Namespace) is stamped by its UID and resourceVersion: every write
//     moves it.
func Stamp(gk schema.GroupKind, obj metav1.Object) uint64 {
	rule := StampRule(gk, obj)
	if rule == ByVersion {
		return StampOf(obj.GetUID(), obj.GetResourceVersion())
	}
	h := fnv.New64a()
	writeString(h, string(obj.GetUID()))
	writeString(h, strconv.FormatInt(obj.GetGeneration(), 10))
	writeString(h, strconv.FormatBool(obj.GetDeletionTimestamp() != nil))
	writeMap(h, obj.GetLabels())
	writeOwners(h, obj.GetOwnerReferences())
	if rule == ByMetadata {
		writeMap(h, obj.GetAnnotations())
		writeManagedFields(h, obj.GetManagedFields())
	}
	return h.Sum64()
}

// Rule says what of an object a Stamp is made of.
type Rule int

const (
	// ByVersion: the UID and resourceVersion.
	ByVersion Rule = iota
	// ByGeneration: the UID, generation, labels, owner references and deletion.
	ByGeneration
	// ByMetadata: the whole metadata but the resourceVersion, the status subresource's
	// managedFields entries and the entries' times.
	ByMetadata
)

// StampRule says how Stamp stamps an object of the kind. An object without managedFields (a
// client may clear them) or without a generation falls back to ByVersion, which is always sound.
func StampRule(gk schema.GroupKind, obj metav1.Object) Rule {
	switch {
	case watchedGroupKinds[gk]:
		if len(obj.GetManagedFields()) > 0 {
			return ByMetadata
		}
	case obj.GetGeneration() > 0 && Real(gk, "metadata.labels") && Real(gk, "metadata.ownerReferences"):
		return ByGeneration
	}
	return ByVersion
}

// StampOf is the ByVersion stamp: a hash of the UID and resourceVersion.
func StampOf(uid types.UID, resourceVersion string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(uid))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(resourceVersion))
	return h.Sum64()
}

func writeString(h hash.Hash, s string) {
	_, _ = h.Write([]byte(s))
	_, _ = h.Write([]byte{0})
}

func writeMap(h hash.Hash, m map[string]string) {
	writeString(h, strconv.Itoa(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		writeString(h, k)
		writeString(h, m[k])
	}
}

func writeOwners(h hash.Hash, refs []metav1.OwnerReference) {
	writeString(h, strconv.Itoa(len(refs)))
	for _, r := range refs {
		writeString(h, r.APIVersion)
		writeString(h, r.Kind)
		writeString(h, r.Name)
		writeString(h, string(r.UID))
		writeString(h, strconv.FormatBool(r.Controller != nil && *r.Controller))
		writeString(h, strconv.FormatBool(r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion))
	}
}

// writeManagedFields hashes the entries but the status subresource's, without their times (an
// entry's time moves on every write of its manager, status writes included), in an order that
// does not depend on how the API server sorts them (it sorts by time).
func writeManagedFields(h hash.Hash, entries []metav1.ManagedFieldsEntry) {
	var sums []uint64
	for _, e := range entries {
		if e.Subresource == "status" {
			continue
		}
		eh := fnv.New64a()
		writeString(eh, e.Manager)
		writeString(eh, string(e.Operation))
		writeString(eh, e.APIVersion)
		writeString(eh, e.FieldsType)
		writeString(eh, e.Subresource)
		if e.FieldsV1 != nil {
			_, _ = eh.Write(e.FieldsV1.Raw)
		}
		sums = append(sums, eh.Sum64())
	}
	slices.Sort(sums)
	writeString(h, strconv.Itoa(len(sums)))
	for _, s := range sums {
		_, _ = h.Write(binary.LittleEndian.AppendUint64(nil, s))
	}
}
