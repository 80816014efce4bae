package integration

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
)

func deployment(gen, observed int64, replicas, updated, available int32, conds ...appsv1.DeploymentCondition) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Generation: gen},
		Status: appsv1.DeploymentStatus{ObservedGeneration: observed, Replicas: replicas, UpdatedReplicas: updated,
			AvailableReplicas: available, Conditions: conds},
	}
}

func TestComputeStatus(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	stalledProblem := &conditions.Problem{Reason: twv1.ReasonSecretStoreMissing, Message: "no store", Stalled: true}
	pending := &conditions.Problem{Reason: twv1.ReasonCredentialsPending, Message: "waiting"}
	deadline := appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "crash looping"}

	tests := map[string]struct {
		state                       twv1.IntegrationState
		obs                         observation
		wantReady, wantCreds, wantW metav1.ConditionStatus
		wantReason                  string
		// wantMessage, when set, is a prefix of the Ready message.
		wantMessage string
		wantStalled bool
	}{
		"available": {
			obs:       observation{deployment: deployment(2, 2, 1, 1, 1)},
			wantReady: metav1.ConditionTrue, wantCreds: metav1.ConditionTrue, wantW: metav1.ConditionTrue, wantReason: twv1.ReasonReconciled,
		},
		"blocked by the tenant: stalled, nothing runs": {
			obs:       observation{blocked: stalledProblem},
			wantReady: metav1.ConditionFalse, wantCreds: metav1.ConditionFalse, wantW: metav1.ConditionFalse,
			wantReason: twv1.ReasonSecretStoreMissing, wantStalled: true,
		},
		"credentials pending, no deployment yet": {
			obs:       observation{credentials: pending},
			wantReady: metav1.ConditionFalse, wantCreds: metav1.ConditionFalse, wantW: metav1.ConditionFalse, wantReason: twv1.ReasonCredentialsPending,
		},
		"keyring of a consumer pending, no deployment yet": {
			obs:       observation{keyringPending: true},
			wantReady: metav1.ConditionFalse, wantCreds: metav1.ConditionTrue, wantW: metav1.ConditionFalse, wantReason: twv1.ReasonDependencyNotReady,
		},
		"keyring of a consumer lost, no deployment: waits and says so": {
			obs:       observation{keyringPending: true, keyringLost: true},
			wantReady: metav1.ConditionFalse, wantCreds: metav1.ConditionTrue, wantW: metav1.ConditionFalse, wantReason: twv1.ReasonDependencyNotReady,
			wantMessage: "The tenant's keyring was lost",
		},
		"rollout not observed": {
			obs:       observation{deployment: deployment(3, 2, 1, 1, 1)},
			wantReady: metav1.ConditionFalse, wantCreds: metav1.ConditionTrue, wantW: metav1.ConditionFalse, wantReason: twv1.ReasonDeploymentProgressing,
		},
		"crash looping: pods exist but none available": {
			obs:       observation{deployment: deployment(2, 2, 1, 1, 0)},
			wantReady: metav1.ConditionFalse, wantCreds: metav1.ConditionTrue, wantW: metav1.ConditionFalse, wantReason: twv1.ReasonDeploymentProgressing,
		},
		"progress deadline exceeded": {
			obs:       observation{deployment: deployment(2, 2, 1, 1, 0, deadline)},
			wantReady: metav1.ConditionFalse, wantCreds: metav1.ConditionTrue, wantW: metav1.ConditionFalse, wantReason: twv1.ReasonDeploymentUnavailable,
		},
		"old pods still terminating": {
			obs:       observation{deployment: deployment(2, 2, 2, 1, 1)},
			wantReady: metav1.ConditionFalse, wantCreds: metav1.ConditionTrue, wantW: metav1.ConditionFalse, wantReason: twv1.ReasonDeploymentProgressing,
		},
		"paused at zero": {
			state:     twv1.StatePaused,
			obs:       observation{deployment: deployment(2, 2, 0, 0, 0)},
			wantReady: metav1.ConditionTrue, wantCreds: metav1.ConditionTrue, wantW: metav1.ConditionTrue, wantReason: twv1.ReasonReconciled,
		},
		"stopped and removed": {
			state:     twv1.StateStopped,
			wantReady: metav1.ConditionTrue, wantCreds: metav1.ConditionTrue, wantW: metav1.ConditionTrue, wantReason: twv1.ReasonReconciled,
		},
		"stopped, still being removed": {
			state:     twv1.StateStopped,
			obs:       observation{deployment: deployment(2, 2, 1, 1, 1)},
			wantReady: metav1.ConditionFalse, wantCreds: metav1.ConditionTrue, wantW: metav1.ConditionFalse, wantReason: twv1.ReasonProgressing,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := sampleIntegration(func(in *twv1.Integration) {
				if tc.state != "" {
					in.Spec.State = tc.state
				}
			})
			st := computeStatus(in, tc.obs, now)
			for typ, want := range map[string]metav1.ConditionStatus{
				twv1.ConditionReady: tc.wantReady, twv1.IntegrationConditionCredentialsReady: tc.wantCreds, twv1.IntegrationConditionWorkloadReady: tc.wantW,
			} {
				if c := conditions.Get(st.Conditions, typ); c == nil || c.Status != want || c.ObservedGeneration != 2 {
					t.Errorf("%s = %+v, want %s", typ, c, want)
				}
			}
			if r := conditions.Get(st.Conditions, twv1.ConditionReady).Reason; r != tc.wantReason {
				t.Errorf("Ready reason = %s, want %s", r, tc.wantReason)
			}
			if m := conditions.Get(st.Conditions, twv1.ConditionReady).Message; !strings.HasPrefix(m, tc.wantMessage) {
				t.Errorf("Ready message = %q, want it to start with %q", m, tc.wantMessage)
			}
			if got := conditions.IsTrue(st.Conditions, twv1.ConditionStalled); got != tc.wantStalled {
				t.Errorf("Stalled = %v, want %v", got, tc.wantStalled)
			}
			if st.ObservedGeneration != 2 {
				t.Errorf("observedGeneration = %d", st.ObservedGeneration)
			}
		})
	}
}

func TestOlderThanRecorded(t *testing.T) {
	recorded := func(version string) *twv1.Tenant {
		return &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
			twv1.KeyringVersionAnnotation: version, twv1.KeyringFingerprintAnnotation: "0123456789abcdef"}}}
	}
	tests := map[string]struct {
		tenant *twv1.Tenant
		active string
		want   bool
	}{
		"no record: any keyring is the tenant's":        {tenant: &twv1.Tenant{}, active: "1"},
		"the recorded version":                          {tenant: recorded("3"), active: "3"},
		"a rotation written before its record":          {tenant: recorded("3"), active: "4"},
		"an old backup restored":                        {tenant: recorded("3"), active: "2", want: true},
		"a hand-made Secret without the version":        {tenant: recorded("3"), active: "", want: true},
		"a record whose version does not parse is moot": {tenant: recorded("x"), active: "1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := olderThanRecorded(tc.tenant, tc.active); got != tc.want {
				t.Errorf("olderThanRecorded = %v, want %v", got, tc.want)
			}
		})
	}
}
