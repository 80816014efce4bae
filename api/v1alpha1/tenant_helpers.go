package v1alpha1

import (
	"fmt"
	"path"
	"strings"
)

// TenantOfNamespace names the Tenant a namespace is named for (tenant-<name>), and reports false
// for a namespace that is not named like a tenant namespace.
func TenantOfNamespace(namespace string) (string, bool) {
	name, ok := strings.CutPrefix(namespace, TenantNamespacePrefix)
	if !ok || name == "" {
		return "", false
	}
	return name, true
}

// SecretPathClaimant returns the Tenant whose claim on t's key vault path comes first: of the
// tenants on the same store (kind and name) whose path prefix is equal to t's or nested with it
// either way, the earliest created (the name breaks a tie), provided it was created before t.
// It returns nil when t has no store, or when t's path is its own. Being claimed does not depend
// on whether the claimant is itself refused: the answer follows from the Tenants' specs alone, so
// every controller that asks agrees.
func SecretPathClaimant(t *Tenant, tenants []Tenant) *Tenant {
	if t.Spec.SecretStore == nil {
		return nil
	}
	var first *Tenant
	for i := range tenants {
		o := &tenants[i]
		if o.Name == t.Name || !createdBefore(o, t) || !SecretPathsOverlap(t.Spec.SecretStore, o.Spec.SecretStore) {
			continue
		}
		if first == nil || createdBefore(o, first) {
			first = o
		}
	}
	return first
}

// SecretPathOverlapMessage says which Tenant claims t's key vault path, for the conditions of t
// and of its Integrations.
func SecretPathOverlapMessage(t, claimant *Tenant) string {
	s, o := t.Spec.SecretStore, claimant.Spec.SecretStore
	return fmt.Sprintf("Tenant %s, created earlier, uses %s %s with pathPrefix %q, equal to or nested with this tenant's %q; "+
		"the tenant's Integrations get no credentials until one of the prefixes changes or Tenant %s is deleted",
		claimant.Name, storeKind(o), o.Name, o.PathPrefix, s.PathPrefix, claimant.Name)
}

// SecretPathsOverlap reports whether two secret store settings reach the same vault paths: the
// same store, and prefixes that are equal or nested on "/" boundaries ("tenants/acme" holds
// "tenants/acme/lab" but not "tenants/acme-family").
func SecretPathsOverlap(a, b *TenantSecretStore) bool {
	if a == nil || b == nil || storeKind(a) != storeKind(b) || a.Name != b.Name {
		return false
	}
	pa, pb := normalPathPrefix(a.PathPrefix), normalPathPrefix(b.PathPrefix)
	return pa == "" || pb == "" || pa == pb || strings.HasPrefix(pa, pb+"/") || strings.HasPrefix(pb, pa+"/")
}

// createdBefore orders Tenants by creation, then by name.
func createdBefore(a, b *Tenant) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// storeKind is the store's kind with the API's default filled in.
func storeKind(s *TenantSecretStore) SecretStoreKind {
	if s.Kind == "" {
		return ClusterSecretStoreKind
	}
	return s.Kind
}

// normalPathPrefix is a path prefix without empty or "." segments and without leading or trailing
// slashes; "" is the store's root, which holds every path. A prefix that is clean already (the
// usual case) costs no allocation: every Integration reconcile compares its tenant's prefix with
// the others'.
func normalPathPrefix(p string) string {
	t := strings.Trim(p, "/")
	if !strings.Contains(t, "//") && !strings.Contains(t, ".") {
		return t
	}
	return strings.Trim(path.Clean("/"+t), "/")
}

// SecretPathKeys are the keys a Tenant's key vault path is indexed under, so that the Tenants
// whose paths overlap a tenant's are found by SecretPathQueries without reading every Tenant: at
// 1000 tenants, listing them all on every Integration reconcile was a quarter of the operator's
// CPU and most of its allocation. A Tenant on store S with prefix p is indexed as "at" p and as
// "under" each of p's ancestors and p itself ("" included).
func SecretPathKeys(t *Tenant) []string {
	if t.Spec.SecretStore == nil {
		return nil
	}
	store, p := secretPathOf(t.Spec.SecretStore)
	keys := []string{"at\x00" + store + p}
	for _, a := range ancestors(p) {
		keys = append(keys, "under\x00"+store+a)
	}
	return append(keys, "under\x00"+store+p)
}

// SecretPathQueries are the keys under which every Tenant whose path overlaps t's (as
// SecretPathsOverlap decides) is indexed by SecretPathKeys: those under t's prefix or at it, and
// those at one of its ancestors. t itself is among the answers.
func SecretPathQueries(t *Tenant) []string {
	if t.Spec.SecretStore == nil {
		return nil
	}
	store, p := secretPathOf(t.Spec.SecretStore)
	queries := []string{"under\x00" + store + p}
	for _, a := range ancestors(p) {
		queries = append(queries, "at\x00"+store+a)
	}
	return queries
}

// secretPathOf is the store part of an index key (kind, name and a separator no name holds) and
// the normalised prefix.
func secretPathOf(s *TenantSecretStore) (store, prefix string) {
	return string(storeKind(s)) + "/" + s.Name + "\x00", normalPathPrefix(s.PathPrefix)
}

// ancestors are the prefixes that hold p, shortest first, from the root ("") to p's parent; none
// for the root itself.
func ancestors(p string) []string {
	if p == "" {
		return nil
	}
	out := []string{""}
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			out = append(out, p[:i])
		}
	}
	return out
}
