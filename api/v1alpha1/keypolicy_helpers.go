package v1alpha1

import (
	"fmt"
	"slices"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// EffectiveKeyPolicy names the KeyPolicy that governs a Tenant's keys: the one it references, or
// else the default policy (the alphabetically first of several, so every controller agrees).
// It returns "" when neither exists.
func EffectiveKeyPolicy(t *Tenant, policies []KeyPolicy) string {
	if t.Spec.KeyPolicyRef != nil {
		return t.Spec.KeyPolicyRef.Name
	}
	return DefaultKeyPolicy(policies)
}

// DefaultKeyPolicy names the default KeyPolicy, or "" when none is marked default.
func DefaultKeyPolicy(policies []KeyPolicy) string {
	var defaults []string
	for _, p := range policies {
		if p.Spec.Default && p.DeletionTimestamp.IsZero() {
			defaults = append(defaults, p.Name)
		}
	}
	if len(defaults) == 0 {
		return ""
	}
	slices.Sort(defaults)
	return defaults[0]
}

// KeyringRecord reads what the KeyPolicy controller recorded on a Tenant about its keyring
// (KeyringVersionAnnotation, KeyringFingerprintAnnotation); ok is false when there is no record (a
// new tenant, or one whose keyring predates the record). A version that does not parse is 0: the
// fingerprint is what identifies the keys.
func (t *Tenant) KeyringRecord() (version int32, fingerprint string, ok bool) {
	fingerprint = t.Annotations[KeyringFingerprintAnnotation]
	if fingerprint == "" {
		return 0, "", false
	}
	v, _ := strconv.ParseInt(t.Annotations[KeyringVersionAnnotation], 10, 32)
	return int32(v), fingerprint, true
}

// ConsumesKeyring reports whether an Integration consumes the policy's keyring: its sync pods
// mount the keyring and are bound to read it, and its keys wait for it to rewrap. Every
// Integration of a tenant the policy governs is a consumer unless spec.consumers narrows them down
// by label; an Integration being deleted is none. A selector that does not parse is an error,
// which the KeyPolicy reports; no Integration consumes a keyring through it.
func (kp *KeyPolicy) ConsumesKeyring(in *Integration) (bool, error) {
	sel, err := kp.ConsumerSelector()
	if err != nil {
		return false, err
	}
	return in.DeletionTimestamp.IsZero() && sel.Matches(labels.Set(in.Labels)), nil
}

// ConsumerSelector is spec.consumers as a selector, everything when it is unset.
func (kp *KeyPolicy) ConsumerSelector() (labels.Selector, error) {
	if kp.Spec.Consumers == nil {
		return labels.Everything(), nil
	}
	sel, err := metav1.LabelSelectorAsSelector(kp.Spec.Consumers)
	if err != nil {
		return nil, fmt.Errorf("spec.consumers: %w", err)
	}
	return sel, nil
}
