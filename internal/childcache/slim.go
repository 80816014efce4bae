package childcache

import (
	"hash/maphash"
	"maps"
	"slices"
	"sync"
	"unique"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	esv1alpha1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// Slim drops from a cached child the fields we only ever write, as its kind's Contract says: the
// Contracts are the list of what survives, in code and under test; this says why. The controllers
// read children for their metadata and status (and a Deployment's replicas and pod template
// annotations, a keyring's data); whether a child still holds what we applied is decided by
// apply.Applier from its Stamp, with an uncached read when it moved. At 1000 tenants the fields
// dropped here were about half of the operator's heap: the pod templates alone a seventh. The
// kinds whose bodies no controller reads at all are not cached (WatchedKinds).
//
// Their metadata keeps no annotations (the applied-intent digest is read from the API server when
// it matters), and what repeats from child to child is shared: equal label sets are one map, the
// children of one owner one list of owner references, and strings (namespaces, names, owners) one
// copy. Secrets keep what slimSecret says. Objects of other kinds (our own kinds, Namespaces,
// Jobs) pass unchanged.
//
// Slim is idempotent: the informer may pass it an object it already slimmed. It never writes to a
// map or list it shares.
func Slim(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Secret:
		slimSecret(o)
		return obj, nil
	case *appsv1.Deployment:
		slimDeployment(o)
	case *esv1.ExternalSecret:
		o.Spec = esv1.ExternalSecretSpec{}
	case *esv1alpha1.PushSecret:
		// Only whether the token writer's PushSecret exists, and its UID to delete it, is read.
		// Kept whole, the 2000 of 1000 tenants were 4 MiB.
		o.Spec, o.Status = esv1alpha1.PushSecretSpec{}, esv1alpha1.PushSecretStatus{}
	default:
		return obj, nil
	}
	if o, ok := obj.(metav1.Object); ok {
		slimMeta(o)
	}
	return obj, nil
}

// slimDeployment keeps what the rollout decisions read: the replicas, the pod template's
// annotations (the credentials hash and keyring version its pods run with) and the status, of
// whose conditions only a failed Progressing one (ProgressDeadlineExceeded) is read. The selector,
// strategy and pod template labels were 3 MiB at 1000 tenants.
func slimDeployment(d *appsv1.Deployment) {
	d.Spec = appsv1.DeploymentSpec{Replicas: d.Spec.Replicas,
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Annotations: internMap(d.Spec.Template.Annotations)}}}
	var failed []appsv1.DeploymentCondition
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse {
			failed = append(failed, c)
		}
	}
	d.Status.Conditions = failed
}

// slimMeta drops annotations and shares what repeats from child to child. Maps cost far more than
// their strings: at 1000 tenants the children's label and annotation maps were a fifth of the heap.
func slimMeta(o metav1.Object) {
	o.SetNamespace(intern(o.GetNamespace()))
	o.SetName(intern(o.GetName()))
	o.SetLabels(labelSets.share(o.GetLabels()))
	o.SetAnnotations(nil)
	o.SetOwnerReferences(ownerRefs.share(o.GetOwnerReferences()))
}

func intern(s string) string {
	return unique.Make(s).Value()
}

// internMap rebuilds m with interned keys and values; nil when it is empty.
func internMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[intern(k)] = intern(v)
	}
	return out
}

// transform is the cache's transform for every kind: no managedFields, and children slimmed.
func transform() toolscache.TransformFunc {
	strip := cache.TransformStripManagedFields()
	return func(obj any) (any, error) {
		obj, err := strip(obj)
		if err != nil {
			return obj, err
		}
		return Slim(obj)
	}
}

// labelSets are the label maps of cached and watched children, one per distinct set: an
// Integration's children carry a few sets between them, a tenant's isolation children one.
var labelSets = &sharedMaps{limit: 1 << 16}

// ownerRefs are the owner references of cached and watched children, one list per distinct owner:
// an Integration's children (about ten) hold one list between them.
var ownerRefs = &sharedOwners{limit: 1 << 16}

// sharedMaps hands out one map per distinct content. The maps are shared by cached objects, which
// nothing mutates: the cache returns deep copies, and event handlers only read. When it holds
// limit sets (deleted tenants' sets are never removed one by one) it starts afresh; objects keep
// the maps they have. Sets are found by a hash of their content rather than the content itself,
// which would cost about as much again as the maps; of two sets with the same hash, the second is
// not shared.
type sharedMaps struct {
	mu    sync.Mutex
	limit int
	sets  map[uint64]map[string]string
}

var contentSeed = maphash.MakeSeed()

func (s *sharedMaps) share(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	id := contentID(m)
	s.mu.Lock()
	defer s.mu.Unlock()
	if shared, ok := s.sets[id]; ok {
		if maps.Equal(shared, m) {
			return shared
		}
		return internMap(m)
	}
	if s.sets == nil || len(s.sets) >= s.limit {
		s.sets = map[uint64]map[string]string{}
	}
	shared := internMap(m)
	s.sets[id] = shared
	return shared
}

// contentID hashes a map's keys and values in key order.
func contentID(m map[string]string) uint64 {
	var h maphash.Hash
	h.SetSeed(contentSeed)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		_, _ = h.WriteString(k)
		_ = h.WriteByte(0)
		_, _ = h.WriteString(m[k])
		_ = h.WriteByte(0)
	}
	return h.Sum64()
}

// sharedOwners hands out one owner reference list per distinct single owner, read-only and reset
// at limit like sharedMaps. Lists of more than one owner (none of our children has them) are
// copied with their strings interned.
type sharedOwners struct {
	mu    sync.Mutex
	limit int
	lists map[ownerKey][]metav1.OwnerReference
}

// ownerKey is a whole owner reference; its strings are those of the shared list.
type ownerKey struct {
	apiVersion, kind, name string
	uid                    types.UID
	controller, block      int8
}

func keyOf(r metav1.OwnerReference) ownerKey {
	flag := func(b *bool) int8 {
		switch {
		case b == nil:
			return -1
		case *b:
			return 1
		}
		return 0
	}
	return ownerKey{apiVersion: r.APIVersion, kind: r.Kind, name: r.Name, uid: r.UID,
		controller: flag(r.Controller), block: flag(r.BlockOwnerDeletion)}
}

func internRef(r metav1.OwnerReference) metav1.OwnerReference {
	r.APIVersion, r.Kind, r.Name = intern(r.APIVersion), intern(r.Kind), intern(r.Name)
	return r
}

func (s *sharedOwners) share(refs []metav1.OwnerReference) []metav1.OwnerReference {
	switch len(refs) {
	case 0:
		return nil
	case 1:
	default:
		out := make([]metav1.OwnerReference, len(refs))
		for i, r := range refs {
			out[i] = internRef(r)
		}
		return out
	}
	key := keyOf(refs[0])
	s.mu.Lock()
	defer s.mu.Unlock()
	if shared, ok := s.lists[key]; ok {
		return shared
	}
	if s.lists == nil || len(s.lists) >= s.limit {
		s.lists = map[ownerKey][]metav1.OwnerReference{}
	}
	shared := []metav1.OwnerReference{internRef(refs[0])}
	s.lists[keyOf(shared[0])] = shared
	return shared
}
