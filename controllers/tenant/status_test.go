package tenant

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/lifecycle"
)

func TestComputeStatus(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	terminating := &conditions.Problem{Reason: twv1.ReasonNamespaceTerminating, Message: "terminating"}
	conflict := &conditions.Problem{Reason: twv1.ReasonNamespaceConflict, Message: "taken", Stalled: true}
	applyFailed := &conditions.Problem{Reason: twv1.ReasonApplyFailed, Message: "quota rejected"}

	tests := map[string]struct {
		obs                                     observation
		wantReady, wantNamespace, wantIsolation metav1.ConditionStatus
		wantReason                              string
		wantReconciling, wantStalled            bool
	}{
		"all in place": {
			wantReady: metav1.ConditionTrue, wantNamespace: metav1.ConditionTrue, wantIsolation: metav1.ConditionTrue,
			wantReason: twv1.ReasonReconciled,
		},
		"namespace terminating: progressing": {
			obs:       observation{namespace: terminating},
			wantReady: metav1.ConditionFalse, wantNamespace: metav1.ConditionFalse, wantIsolation: metav1.ConditionFalse,
			wantReason: twv1.ReasonNamespaceTerminating, wantReconciling: true,
		},
		"namespace owned by someone else: stalled": {
			obs:       observation{namespace: conflict},
			wantReady: metav1.ConditionFalse, wantNamespace: metav1.ConditionFalse, wantIsolation: metav1.ConditionFalse,
			wantReason: twv1.ReasonNamespaceConflict, wantStalled: true,
		},
		"isolation child rejected": {
			obs:       observation{isolation: applyFailed},
			wantReady: metav1.ConditionFalse, wantNamespace: metav1.ConditionTrue, wantIsolation: metav1.ConditionFalse,
			wantReason: twv1.ReasonApplyFailed, wantReconciling: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := computeStatus(sampleTenant(), tc.obs, lifecycle.Decision{State: twv1.TenantActive}, now)
			if st.ObservedGeneration != 3 || st.Namespace != "tenant-acme" {
				t.Errorf("observedGeneration=%d namespace=%q", st.ObservedGeneration, st.Namespace)
			}
			check := func(typ string, want metav1.ConditionStatus) {
				c := conditions.Get(st.Conditions, typ)
				if c == nil || c.Status != want || c.ObservedGeneration != 3 {
					t.Errorf("%s = %+v, want %s at generation 3", typ, c, want)
				}
			}
			check(twv1.ConditionReady, tc.wantReady)
			check(twv1.TenantConditionNamespaceReady, tc.wantNamespace)
			check(twv1.TenantConditionIsolationReady, tc.wantIsolation)
			if st.Conditions[0].Type != twv1.ConditionReady {
				t.Errorf("first condition = %s, want Ready", st.Conditions[0].Type)
			}
			if r := conditions.Get(st.Conditions, twv1.ConditionReady).Reason; r != tc.wantReason {
				t.Errorf("Ready reason = %s, want %s", r, tc.wantReason)
			}
			if got := conditions.IsTrue(st.Conditions, twv1.ConditionReconciling); got != tc.wantReconciling {
				t.Errorf("Reconciling = %v, want %v", got, tc.wantReconciling)
			}
			if got := conditions.IsTrue(st.Conditions, twv1.ConditionStalled); got != tc.wantStalled {
				t.Errorf("Stalled = %v, want %v", got, tc.wantStalled)
			}
		})
	}
}

func TestComputeStatusKeepsTransitionTimeAndClearsProgressConditions(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Hour))
	tn := sampleTenant()
	active := lifecycle.Decision{State: twv1.TenantActive}

	tn.Status = computeStatus(tn, observation{namespace: &conditions.Problem{Reason: twv1.ReasonNamespaceTerminating}}, active, t0)
	tn.Status = computeStatus(tn, observation{}, active, t1)
	again := computeStatus(tn, observation{}, active, metav1.NewTime(t1.Add(time.Hour)))

	ready := conditions.Get(again.Conditions, twv1.ConditionReady)
	if !ready.LastTransitionTime.Equal(&t1) {
		t.Errorf("Ready lastTransitionTime = %v, want %v (the flip), not the later reconcile", ready.LastTransitionTime, t1)
	}
	if conditions.Get(again.Conditions, twv1.ConditionReconciling) != nil {
		t.Error("Reconciling still present after convergence")
	}
	if len(again.Conditions) != 3 {
		t.Errorf("conditions = %v, want Ready, IsolationReady, NamespaceReady", again.Conditions)
	}
}

func TestComputeStatusSecretPath(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	withStore := func(t *twv1.Tenant) {
		t.Spec.SecretStore = &twv1.TenantSecretStore{Kind: twv1.ClusterSecretStoreKind, Name: "vault", PathPrefix: "tenants/acme/"}
	}
	claimed := &conditions.Problem{Reason: twv1.ReasonSecretStorePathOverlap, Message: "Tenant first, created earlier, ...", Stalled: true}
	tests := map[string]struct {
		tenant      *twv1.Tenant
		obs         observation
		wantPath    *metav1.ConditionStatus
		wantReady   metav1.ConditionStatus
		wantReason  string
		wantStalled bool
	}{
		"no secret store: no condition": {
			tenant: sampleTenant(), wantReady: metav1.ConditionTrue, wantReason: twv1.ReasonReconciled,
		},
		"its own path": {
			tenant: sampleTenant(withStore), wantPath: ptr.To(metav1.ConditionTrue), wantReady: metav1.ConditionTrue, wantReason: twv1.ReasonReconciled,
		},
		"claimed by an earlier tenant: stalled": {
			tenant: sampleTenant(withStore), obs: observation{secretPath: claimed}, wantPath: ptr.To(metav1.ConditionFalse),
			wantReady: metav1.ConditionFalse, wantReason: twv1.ReasonSecretStorePathOverlap, wantStalled: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := computeStatus(tc.tenant, tc.obs, lifecycle.Decision{State: twv1.TenantActive}, now)
			c := conditions.Get(st.Conditions, twv1.TenantConditionSecretPathReady)
			switch {
			case tc.wantPath == nil && c != nil:
				t.Errorf("SecretPathReady = %+v, want none", c)
			case tc.wantPath != nil && (c == nil || c.Status != *tc.wantPath):
				t.Errorf("SecretPathReady = %+v, want %s", c, *tc.wantPath)
			}
			ready := conditions.Get(st.Conditions, twv1.ConditionReady)
			if ready.Status != tc.wantReady || ready.Reason != tc.wantReason {
				t.Errorf("Ready = %s/%s, want %s/%s", ready.Status, ready.Reason, tc.wantReady, tc.wantReason)
			}
			if got := conditions.IsTrue(st.Conditions, twv1.ConditionStalled); got != tc.wantStalled {
				t.Errorf("Stalled = %v, want %v", got, tc.wantStalled)
			}
		})
	}
}
