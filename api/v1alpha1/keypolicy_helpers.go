package v1alpha1

import "slices"

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
