package childcache

import (
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/tenantwire/tenantwire/internal/keyring"
)

// Contract says which fields of an object read from the cache are real, that is, hold what the
// API server holds. Every other field is zero in the cache whatever the API server holds: code
// that reads it from a cached object reads nothing. Slim carries the contracts out;
// TestSlimKeepsExactlyTheContract fills every field of each kind, runs the cache's transform and
// checks that exactly these fields survive.
//
// Paths are the fields' JSON names joined by dots; a path stands for everything under it.
type Contract struct {
	// Kept survive whole.
	Kept []string
	// Narrowed survive in part: the path, and which part. What survives is real; the rest is
	// gone. A narrowed path may lie under a kept one, and then overrides it.
	Narrowed map[string]string
}

// metadataKept is the metadata of every slimmed kind: all of it but the annotations (and, as of
// every kind, managedFields).
var metadataKept = []string{"metadata.name", "metadata.generateName", "metadata.namespace", "metadata.selfLink",
	"metadata.uid", "metadata.resourceVersion", "metadata.generation", "metadata.creationTimestamp",
	"metadata.deletionTimestamp", "metadata.deletionGracePeriodSeconds", "metadata.labels", "metadata.ownerReferences",
	"metadata.finalizers"}

// Contracts are the kinds Slim narrows. Every other kind the cache holds (our own kinds,
// Namespaces, Jobs) is whole but for metadata.managedFields; the kinds in WatchedKinds are not
// cached at all.
var Contracts = map[schema.GroupKind]Contract{
	// The rollout decisions read the replicas, the pod template's annotations (the credentials
	// hash and keyring version its pods run with) and the status.
	{Group: "apps", Kind: "Deployment"}: {
		Kept: append(slices.Clone(metadataKept), "spec.replicas", "spec.template.metadata.annotations", "status"),
		Narrowed: map[string]string{
			"status.conditions": "only a Progressing condition whose status is False (ProgressDeadlineExceeded: a failed rollout)",
		},
	},
	// The Integration controller reads ExternalSecrets' Ready condition and whether they exist.
	{Group: "external-secrets.io", Kind: "ExternalSecret"}: {
		Kept: append(slices.Clone(metadataKept), "status"),
	},
	// The Integration controller reads only whether a token writer's PushSecret exists, and its
	// UID to delete it.
	{Group: "external-secrets.io", Kind: "PushSecret"}: {
		Kept: slices.Clone(metadataKept),
	},
	// See slimSecret.
	{Group: "", Kind: "Secret"}: {
		Kept: append(slices.Clone(metadataKept), "type", "immutable"),
		Narrowed: map[string]string{
			"metadata.labels": "all but External Secrets Operator's (" + esoLabelPrefix + "*)",
			"metadata.annotations": "only " + keyring.ActiveVersionAnnotation +
				" (the keyring's active version, which the Integrations' pod templates carry)",
			"data": "an Integration's credential Secret holds only " + DataDigestKey +
				", the SecretDataDigest of its data; every other Secret holds its data whole",
			"stringData": "none on an Integration's credential Secret; whole on every other Secret",
		},
	},
}

// Fate is what the cache does to a field.
type Fate int

const (
	// Dropped fields are zero in the cache.
	Dropped Fate = iota
	// Kept fields hold what the API server holds.
	Kept
	// Narrowed fields hold a part of it, as the kind's Contract says.
	Narrowed
)

// FateOf says what the cache does to a field of an object of the kind.
func FateOf(gk schema.GroupKind, path string) Fate {
	c, ok := Contracts[gk]
	if !ok {
		if under(path, "metadata.managedFields") {
			return Dropped
		}
		return Kept
	}
	rule, kept := c.rule(path)
	switch {
	case rule == "":
		return Dropped
	case kept:
		return Kept
	}
	return Narrowed
}

// Real says whether a field of a cached object of the kind holds in full what the API server
// holds: a narrowed field does not, and is read only as its Contract says.
func Real(gk schema.GroupKind, path string) bool {
	return FateOf(gk, path) == Kept
}

// Beneath says whether the kind's Contract decides some field beneath path on its own: then path
// is neither kept nor dropped whole.
func Beneath(gk schema.GroupKind, path string) bool {
	c := Contracts[gk]
	for _, r := range slices.Concat(c.Kept, slices.Collect(maps.Keys(c.Narrowed))) {
		if r != path && under(r, path) {
			return true
		}
	}
	return false
}

// rule is the most specific path of the contract that path lies under, and whether it is kept
// (or narrowed); "" when it lies under none, and was dropped.
func (c Contract) rule(path string) (rule string, kept bool) {
	for _, k := range c.Kept {
		if under(path, k) && len(k) > len(rule) {
			rule, kept = k, true
		}
	}
	for n := range c.Narrowed {
		if under(path, n) && len(n) >= len(rule) {
			rule, kept = n, false
		}
	}
	return rule, kept
}

// under says whether path is rule or lies beneath it.
func under(path, rule string) bool {
	return path == rule || strings.HasPrefix(path, rule+".")
}
