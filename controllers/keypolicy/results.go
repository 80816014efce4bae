package keypolicy

import (
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
)

// tenantResult is what the keyring controller found for one tenant, the input of its policy's
// status.
type tenantResult struct {
	// policy and generation say which policy, at which generation, the result was computed for:
	// the status of a generation is written only from results of that generation.
	policy     string
	generation int64
	status     twv1.TenantKeyStatus
	problem    *conditions.Problem
	// held counts the versions kept beyond retention because lagging of the tenant's consumers
	// have not rewrapped onto the active version.
	held, lagging, consumers int
	// rotated is set once a new version reached the API server.
	rotated bool
}

// resultStore is the tenants' last results. It lives in memory: after a restart every tenant is
// reconciled once (the informers list them), and a policy's status waits until each of its tenants
// has reported, so a restart never writes a partial status.
type resultStore struct {
	mu sync.Mutex
	m  map[string]tenantResult
}

// store records a tenant's result. It reports the policy of the previous result and whether
// anything the status shows changed, so that an unchanged reconcile wakes no aggregation.
func (s *resultStore) store(tenant string, res tenantResult) (previousPolicy string, changed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]tenantResult{}
	}
	prev, ok := s.m[tenant]
	s.m[tenant] = res
	return prev.policy, !ok || !prev.equal(res)
}

// equal compares everything the status is computed from.
func (a tenantResult) equal(b tenantResult) bool {
	sameProblem := (a.problem == nil) == (b.problem == nil) && (a.problem == nil || *a.problem == *b.problem)
	return a.policy == b.policy && a.generation == b.generation && sameProblem &&
		a.held == b.held && a.lagging == b.lagging && a.consumers == b.consumers && a.rotated == b.rotated &&
		equality.Semantic.DeepEqual(a.status, b.status)
}

// forget drops a tenant that no policy covers any more and returns its last result.
func (s *resultStore) forget(tenant string) (tenantResult, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, ok := s.m[tenant]
	delete(s.m, tenant)
	return prev, ok
}

// get returns a tenant's last result.
func (s *resultStore) get(tenant string) (tenantResult, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, ok := s.m[tenant]
	return res, ok
}
