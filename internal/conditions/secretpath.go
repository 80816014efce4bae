package conditions

import twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"

// SecretPathProblem refuses t's key vault path when a Tenant created earlier claims it
// (twv1.SecretPathClaimant). The Tenant controller reports it on the Tenant and the Integration
// controller refuses to sync credentials on it; both decide from the same Tenants with this one
// function, so they agree without waiting for each other's status.
func SecretPathProblem(t *twv1.Tenant, tenants []twv1.Tenant) *Problem {
	claimant := twv1.SecretPathClaimant(t, tenants)
	if claimant == nil {
		return nil
	}
	return &Problem{Reason: twv1.ReasonSecretStorePathOverlap, Message: twv1.SecretPathOverlapMessage(t, claimant), Stalled: true}
}
