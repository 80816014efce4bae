package keypolicy

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/keyring"
)

func TestKeyringReport(t *testing.T) {
	m, err := keyring.NewMaterial(nil)
	if err != nil {
		t.Fatal(err)
	}
	kr := keyring.AddVersion(nil, string(twv1.AlgorithmAES256GCM), m, t0)
	kp := samplePolicy()
	kp.Spec.RotateNow = &twv1.KeyRotationRequest{Request: "r2"}
	withPrevious := func(request string) *twv1.Tenant {
		tn := sampleTenant()
		tn.Status.Keyring = &twv1.TenantKeyringStatus{Policy: "standard", RotationRequest: request}
		return tn
	}
	stalled := &conditions.Problem{Reason: twv1.ReasonKeyringLost, Message: "lost", Stalled: true}
	transient := &conditions.Problem{Reason: twv1.ReasonApplyFailed, Message: "conflict"}
	tests := map[string]struct {
		res                 tenantResult
		onDemand, completed bool
		wantRequest         string
		wantReason          string
	}{
		"rotated for the request":                 {res: tenantResult{keyring: kr, rotated: true}, onDemand: true, completed: true, wantRequest: "r2"},
		"rotated, then a later step failed":       {res: tenantResult{keyring: kr, rotated: true, problem: transient}, onDemand: true, wantRequest: "r2", wantReason: twv1.ReasonApplyFailed},
		"not rotated: a transient problem":        {res: tenantResult{keyring: kr, problem: transient}, onDemand: true, completed: true, wantRequest: "r1", wantReason: twv1.ReasonApplyFailed},
		"not rotated: only the user can fix it":   {res: tenantResult{problem: stalled}, onDemand: true, completed: true, wantRequest: "r2", wantReason: twv1.ReasonKeyringLost},
		"no request: the last one is kept":        {res: tenantResult{keyring: kr}, completed: true, wantRequest: "r1"},
		"external keys: nothing to rotate, done":  {res: tenantResult{keyring: kr}, onDemand: true, completed: true, wantRequest: "r2"},
		"an error before anything was found":      {res: tenantResult{problem: transient}, onDemand: true, wantRequest: "r1", wantReason: twv1.ReasonApplyFailed},
		"a settling binding is still carried out": {res: tenantResult{keyring: kr, rotated: true, problem: &conditions.Problem{Reason: twv1.ReasonConsumersSettling}}, onDemand: true, completed: true, wantRequest: "r2", wantReason: twv1.ReasonConsumersSettling},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := keyringReport(kp, withPrevious("r1"), tc.res, tc.onDemand, tc.completed)
			if st.RotationRequest != tc.wantRequest || st.Reason != tc.wantReason {
				t.Errorf("rotationRequest %q reason %q, want %q and %q", st.RotationRequest, st.Reason, tc.wantRequest, tc.wantReason)
			}
			if st.Policy != "standard" || st.PolicyGeneration != kp.Generation {
				t.Errorf("report names policy %s generation %d", st.Policy, st.PolicyGeneration)
			}
			if tc.res.keyring != nil && (st.ActiveVersion != 1 || st.Fingerprint != kr.ActiveVersion().Fingerprint() || !st.LastRotation.Time.Equal(t0)) {
				t.Errorf("report %+v does not describe the keyring", st)
			}
			// The report is published on the Tenant: never key material.
			b, err := json.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			for _, key := range [][]byte{m.EncryptionKey, m.HMACKey} {
				if strings.Contains(string(b), base64.StdEncoding.EncodeToString(key)) {
					t.Errorf("report contains key material: %s", b)
				}
			}
		})
	}
}

func TestRotationRequested(t *testing.T) {
	kp := samplePolicy()
	tn := sampleTenant()
	if rotationRequested(kp, tn) {
		t.Error("no request, yet rotation requested")
	}
	kp.Spec.RotateNow = &twv1.KeyRotationRequest{Request: "r1", Tenants: []string{"other"}}
	if rotationRequested(kp, tn) {
		t.Error("a request naming another tenant rotates this one")
	}
	kp.Spec.RotateNow.Tenants = nil
	if !rotationRequested(kp, tn) {
		t.Error("a request naming every tenant does not rotate a tenant with no report")
	}
	tn.Status.Keyring = &twv1.TenantKeyringStatus{RotationRequest: "r1"}
	if rotationRequested(kp, tn) {
		t.Error("a request already carried out rotates again")
	}
}

// TestTenantStatusIsNotWritableByTheTenant: status.keyring decides whether a rotate-now request
// is carried out, so nobody the tenant controls may write a Tenant's status: not its admins, not
// its sync pods.
func TestTenantStatusIsNotWritableByTheTenant(t *testing.T) {
	applyTenantRoles(t)
	createTenant(t, "forger", "", twv1.Subject{Kind: twv1.SubjectGroup, Name: "oidc:forger-admins"})
	ns := "tenant-forger"
	subjects := map[string]struct {
		user   string
		groups []string
	}{
		"tenant admins":      {user: "dr@forger.example", groups: []string{"oidc:forger-admins"}},
		"the sync identity":  {user: "system:serviceaccount:" + ns + ":tenantwire-sync", groups: []string{"system:serviceaccounts"}},
		"a namespace member": {user: "system:serviceaccount:" + ns + ":default", groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns}},
	}
	// The admins' RoleBinding may come a moment after the Tenant: wait for what they can do.
	waitAllowed(t, "dr@forger.example", []string{"oidc:forger-admins"}, ns, "create", "integrations")
	for name, s := range subjects {
		for _, verb := range []string{"patch", "update"} {
			t.Run(name+" "+verb, func(t *testing.T) {
				sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: s.user, Groups: s.groups,
					ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Group: "tenantwire.io", Resource: "tenants", Subresource: "status", Name: "forger"}}}
				if err := k8s.Create(ctx, sar); err != nil {
					t.Fatal(err)
				}
				if sar.Status.Allowed {
					t.Errorf("%s may %s the Tenant's status", name, verb)
				}
			})
		}
	}
}

// waitAllowed waits until a subject may do verb on a tenantwire.io resource in ns.
func waitAllowed(t *testing.T, user string, groups []string, ns, verb, resource string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user, Groups: groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: "tenantwire.io", Resource: resource}}}
		if err := k8s.Create(ctx, sar); err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never got %s %s in %s", user, verb, resource, ns)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
