package apply

import (
	"encoding/binary"
	"hash/fnv"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// verified remembers, per child, the last version of it known to hold our intent: the object's
// childcache.Stamp with the Fingerprint of the desired object whose intent it holds. The manager's
// cache holds children without the fields we set, or not at all (see childcache), so the cache
// alone cannot say whether a child still holds the intent; an unchanged stamp can. A change that
// may have touched what we apply (a hand edit of the spec or labels) moves the stamp and costs one
// uncached read to verify again; another controller's status write does not.
//
// Keys and versions are stored as 64-bit FNV hashes, about 40 bytes per child with the map's own
// overhead: the memo must stay small next to the slim cache it stands in for. A collision could at
// worst skip one apply of an object whose kind, name, stamp and desired object all hash alike.
type verified struct {
	mu sync.Mutex
	m  map[uint64]uint64
}

func childKey(gvk schema.GroupVersionKind, key client.ObjectKey) uint64 {
	h := fnv.New64a()
	for _, s := range []string{gvk.Group, gvk.Kind, key.Namespace, key.Name} {
		_, _ = h.Write([]byte(s))
		_, _ = h.Write([]byte{0})
	}
	return h.Sum64()
}

// versionOf combines a child's stamp (childcache.Stamp) with the Fingerprint of the desired object
// whose intent it holds.
func versionOf(stamp, fingerprint uint64) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(binary.LittleEndian.AppendUint64(nil, stamp))
	_, _ = h.Write(binary.LittleEndian.AppendUint64(nil, fingerprint))
	return h.Sum64()
}

// holds reports whether the child, at the version stamp tells, was verified to carry the intent of
// a desired object with this fingerprint.
func (v *verified) holds(key, stamp, fingerprint uint64) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	got, ok := v.m[key]
	return ok && got == versionOf(stamp, fingerprint)
}

// has reports whether any version of the child was verified (and not forgotten since).
func (v *verified) has(key uint64) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, ok := v.m[key]
	return ok
}

func (v *verified) record(key, stamp, fingerprint uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[uint64]uint64{}
	}
	v.m[key] = versionOf(stamp, fingerprint)
}

func (v *verified) forget(key uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.m, key)
}

func (v *verified) len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.m)
}
