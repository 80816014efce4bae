// Package labels holds the labels and field owners tenantwire puts on everything it creates, so that
// caches, selectors and people can tell our objects apart from everything else in the cluster.
package labels

const (
	// ManagedBy is the well-known label key naming the tool that manages an object.
	ManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is our value of ManagedBy; the manager's cache only holds children carrying it.
	ManagedByValue = "tenantwire"
	// Tenant names the Tenant an object belongs to.
	Tenant = "tenantwire.io/tenant"
	// Integration names the Integration an object belongs to.
	Integration = "tenantwire.io/integration"
	// KeyPolicy names the KeyPolicy whose keyring an object belongs to.
	KeyPolicy = "tenantwire.io/keypolicy"
	// Component says which part of the stack an object is (namespace, isolation, rbac, sync, ...).
	Component = "app.kubernetes.io/component"
	// PartOf groups everything tenantwire creates for app.kubernetes.io-aware tools.
	PartOf = "app.kubernetes.io/part-of"

	// Purged marks a tenant namespace the Tenant controller has purged (the keyring is confirmed
	// gone). The admission policy tenantwire-tenant-namespace-deletion lets a tenant namespace be
	// deleted only with it, and lets only the operator set it.
	Purged = "tenantwire.io/purged"

	// NamespaceNameLabel is set by the API server on every namespace and cannot be changed, which is
	// why network policies select namespaces by it.
	NamespaceNameLabel = "kubernetes.io/metadata.name"
)

// ForTenant returns the labels every child of a Tenant carries.
func ForTenant(tenant, component string) map[string]string {
	return map[string]string{
		ManagedBy: ManagedByValue,
		PartOf:    ManagedByValue,
		Tenant:    tenant,
		Component: component,
	}
}

// ForIntegration returns the labels every child of an Integration carries.
func ForIntegration(tenant, integration, component string) map[string]string {
	l := ForTenant(tenant, component)
	l[Integration] = integration
	return l
}

// FieldOwner is the server-side apply field manager of one controller.
func FieldOwner(controller string) string { return "tenantwire-" + controller }

// CredentialsComponent is the component label of an Integration's credential ExternalSecrets and
// of the Secrets External Secrets Operator syncs from them. The manager's cache keeps only a digest
// of those Secrets' data (childcache).
const CredentialsComponent = "credentials"

// SecretPathPrefixAnnotation on a tenant namespace is the Tenant's spec.secretStore.pathPrefix,
// cleaned. The admission policy tenantwire-tenant-workloads admits a PushSecret only to keys under
// it; the Tenant controller sets it, and only cluster administrators may update namespaces.
const SecretPathPrefixAnnotation = "tenantwire.io/secret-path-prefix"

// Components of an Integration's write-back channel for rotated OAuth refresh tokens: the token
// writer ServiceAccount, and the rotated-token Secret with its PushSecret. The manager's cache
// keeps none of that Secret's tokens (childcache).
const (
	TokenWriterComponent  = "token-writer"
	RotatedTokenComponent = "rotated-token"
)

// Export Jobs: one per Integration, named for it, carrying the request it runs. The Integration
// controller creates them and the Tenant controller reports on them.
const (
	// ExportComponent is the component label of export Jobs and their pods.
	ExportComponent = "export"
	// ExportRequestAnnotation on an export Job names the Tenant's spec.export.request it runs.
	ExportRequestAnnotation = "tenantwire.io/export-request"
)

// ExportJobName is the Job that exports one Integration's mapping.
func ExportJobName(integration string) string { return integration + "-export" }

// StorePurgeComponent is the component label of the Jobs (and their pods) that delete an
// Integration's rows from its PostgreSQL mapping store when its Tenant is purged.
const StorePurgeComponent = "store-purge"

// StorePurgeJobName is the Job that purges one Integration's PostgreSQL mapping store.
func StorePurgeJobName(integration string) string { return integration + "-store-purge" }
