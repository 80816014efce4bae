package integration

import (
	"fmt"
	"time"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/hostpolicy"
	"github.com/tenantwire/tenantwire/internal/imagepolicy"
)

// specRules is the platform's configuration the validation chain holds an Integration to.
type specRules struct {
	syncImage     string
	allowedImages imagepolicy.AllowList
	hosts         hostpolicy.Policy
	baaCovered    BAACoverage
}

func (r *Reconciler) specRules() specRules {
	return specRules{syncImage: r.SyncImage, allowedImages: r.AllowedImages, hosts: r.hostPolicy(), baaCovered: r.BAACovered}
}

// specInput is all a check reads: the Integration, its Tenant (nil when it has none), the
// platform's rules and the time. The checks read nothing from the cluster, so the order and the
// outcome of the chain are decided by unit tests.
type specInput struct {
	in     *twv1.Integration
	tenant *twv1.Tenant
	rules  specRules
	now    time.Time
}

// specCheck is one pure check: the problem that keeps the Integration from being built, or nil.
type specCheck func(specInput) *conditions.Problem

// specChecks run in this order, and the first problem is the one reported: what only the Tenant
// can tell first (a spec may be fine and its tenant not), then the Integration's own fields in the
// order a reader of its spec meets them.
var specChecks = []specCheck{validateAgainstTenant, validateSchedule, validateImage, validateHosts, validateFields}

// validateSpec runs the validation chain.
func validateSpec(x specInput) *conditions.Problem {
	for _, check := range specChecks {
		if p := check(x); p != nil {
			return p
		}
	}
	return nil
}

// validateAgainstTenant checks what only the Tenant can tell: a store to read from, and credential
// keys that stay under the tenant's vault path.
func validateAgainstTenant(x specInput) *conditions.Problem {
	in, t := x.in, x.tenant
	if t == nil {
		return nil
	}
	store := t.Spec.SecretStore
	if store == nil {
		return &conditions.Problem{Reason: twv1.ReasonSecretStoreMissing, Stalled: true,
			Message: fmt.Sprintf("Tenant %s has no spec.secretStore; Integrations need it to reach their credentials", t.Name)}
	}
	for _, s := range credentialSides(in) {
		key := credentialsOf(in, s).RemoteKey
		if !withinPrefix(store.PathPrefix, key) {
			return &conditions.Problem{Reason: twv1.ReasonCredentialsOutsidePrefix, Stalled: true,
				Message: fmt.Sprintf("%s credentials key %q resolves outside the tenant's path prefix %q", s, key, store.PathPrefix)}
		}
	}
	return nil
}

// validateImage refuses an image the operator was not told to trust.
func validateImage(x specInput) *conditions.Problem {
	img := x.in.Spec.Image
	if img == "" || img == x.rules.syncImage {
		return nil
	}
	allowed, err := x.rules.allowedImages.Allows(img)
	switch {
	case err != nil:
		return &conditions.Problem{Reason: twv1.ReasonImageNotAllowed, Stalled: true,
			Message: fmt.Sprintf("spec.image %q is not a valid image reference: %v", img, err)}
	case !allowed:
		return &conditions.Problem{Reason: twv1.ReasonImageNotAllowed, Stalled: true,
			Message: fmt.Sprintf("spec.image %q is neither the operator's sync image nor in a repository allowed by --allowed-sync-image-prefixes", img)}
	}
	return nil
}
