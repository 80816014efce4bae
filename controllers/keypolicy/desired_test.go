package keypolicy

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/labels"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

func sampleTenant() *twv1.Tenant {
	return &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", UID: "uid-acme"}}
}

func samplePolicy() *twv1.KeyPolicy {
	return &twv1.KeyPolicy{ObjectMeta: metav1.ObjectMeta{Name: "standard", Generation: 4}, Spec: twv1.KeyPolicySpec{
		Algorithm: twv1.AlgorithmAES256GCM,
		Rotation:  twv1.KeyRotation{Period: metav1.Duration{Duration: 90 * 24 * time.Hour}, RetainVersions: 2},
	}}
}

func sampleKeyring(n int) *keyring.Keyring {
	var k *keyring.Keyring
	for i := range n {
		m := keyring.Material{EncryptionKey: bytes.Repeat([]byte{byte(i)}, 32), HMACKey: bytes.Repeat([]byte{byte(i + 100)}, 32)}
		k = keyring.Rotate(k, "AES-256-GCM", m, t0.Add(time.Duration(i)*time.Hour), 2)
	}
	return k
}

func TestDesiredKeyringSecret(t *testing.T) {
	s, err := desiredKeyringSecret(sampleTenant(), samplePolicy(), sampleKeyring(4))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != keyring.SecretName || s.Namespace != "tenant-acme" {
		t.Errorf("secret %s/%s", s.Namespace, s.Name)
	}
	if s.Labels[labels.KeyPolicy] != "standard" || s.Labels[labels.Tenant] != "acme" || s.Labels[labels.ManagedBy] != labels.ManagedByValue {
		t.Errorf("labels = %v", s.Labels)
	}
	if len(s.OwnerReferences) != 0 {
		t.Errorf("the keyring has owner references %v: a cascading Tenant delete would destroy keys before the grace period ends", s.OwnerReferences)
	}
	want := map[string]string{keyring.ActiveVersionAnnotation: "4", keyring.VersionsAnnotation: "2,3,4", keyring.RotatedAtAnnotation: "2026-11-25T11:00:00Z"}
	for k, v := range want {
		if s.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, s.Annotations[k], v)
		}
	}
	for k, v := range s.Annotations {
		if strings.Contains(v, "AAAA") || len(v) > 64 {
			t.Errorf("annotation %s looks like key material: %q", k, v)
		}
	}
	back, err := keyring.Parse(s.Data[keyring.DataKey])
	if err != nil || back.Active != 4 {
		t.Errorf("keyring data does not parse back: %v", err)
	}
}

func TestDesiredReaderRoleAndBinding(t *testing.T) {
	role := desiredReaderRole(sampleTenant(), samplePolicy())
	if len(role.Rules) != 1 || strings.Join(role.Rules[0].Verbs, ",") != "get" || strings.Join(role.Rules[0].ResourceNames, ",") != keyring.SecretName {
		t.Errorf("role rules = %+v", role.Rules)
	}
	tests := map[string]struct {
		consumers []string
		want      string
	}{
		"no consumers: nobody":    {},
		"sorted service accounts": {consumers: []string{"zoho-sync-job", "cerbo-qb"}, want: "cerbo-qb-sync,zoho-sync-job-sync"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := desiredReaderBinding(sampleTenant(), samplePolicy(), tc.consumers)
			var got []string
			for _, s := range b.Subjects {
				if s.Kind != "ServiceAccount" || s.Namespace != "tenant-acme" {
					t.Errorf("subject %+v", s)
				}
				got = append(got, s.Name)
			}
			if strings.Join(got, ",") != tc.want {
				t.Errorf("subjects = %v, want %s", got, tc.want)
			}
		})
	}
}

func TestDesiredKeySourceUsesTheTenantsOwnPath(t *testing.T) {
	kp := samplePolicy()
	kp.Spec.Source = twv1.KeySource{Type: twv1.KeySourceExternal, External: &twv1.ExternalKeySource{
		StoreRef: twv1.KeyStoreRef{Kind: "ClusterSecretStore", Name: "vault"}, RemoteKeyTemplate: "tenants/{tenant}/id-key",
		EncryptionKeyProperty: "enc", HMACKeyProperty: "mac",
	}}
	es := desiredKeySource(sampleTenant(), kp)
	if len(es.Spec.Data) != 2 || es.Spec.Data[0].RemoteRef.Key != "tenants/acme/id-key" || es.Spec.Data[0].RemoteRef.Property != "enc" ||
		es.Spec.Data[1].RemoteRef.Property != "mac" {
		t.Errorf("data = %+v", es.Spec.Data)
	}
	if es.Spec.Target.Template.Metadata.Labels[labels.KeyPolicy] != "standard" {
		t.Error("the synced key source Secret would not be labelled for the cache and the policy")
	}
}

func TestComputeStatus(t *testing.T) {
	now := metav1.NewTime(t0)
	tenant := func(name string, mut ...func(*twv1.TenantKeyringStatus)) twv1.Tenant {
		k := &twv1.TenantKeyringStatus{Policy: "standard", PolicyGeneration: 4, ActiveVersion: 1}
		for _, m := range mut {
			m(k)
		}
		return twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: twv1.TenantStatus{Keyring: k,
			Conditions: []metav1.Condition{{Type: twv1.TenantConditionNamespaceReady, Status: metav1.ConditionTrue}}}}
	}
	notReady := twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "new"}}
	failing := func(k *twv1.TenantKeyringStatus) { k.Reason, k.Message = twv1.ReasonKeySourceUnavailable, "waiting" }
	awaiting := func(k *twv1.TenantKeyringStatus) { k.HeldVersions, k.LaggingConsumers = 1, 2 }
	rotated := func(k *twv1.TenantKeyringStatus) { k.RotationRequest = "r1" }
	many := make([]twv1.Tenant, 0, 1000)
	for i := range 1000 {
		many = append(many, tenant(fmt.Sprintf("t%04d", i), failing))
	}
	tests := map[string]struct {
		tenants         []twv1.Tenant
		rotateNow       *twv1.KeyRotationRequest
		wantReady       metav1.ConditionStatus
		wantReason      string
		wantCounts      [4]int32 // tenants, current, awaiting rewrap, failing
		wantFailing     []twv1.TenantKeyProblem
		wantRotateNow   *twv1.KeyRotationRequestStatus
		wantRetention   string
		retentionQuotes []string
		readyQuotes     []string
	}{
		"no tenants":  {wantReady: metav1.ConditionTrue, wantReason: twv1.ReasonReconciled, wantRetention: twv1.ReasonReconciled},
		"all current": {tenants: []twv1.Tenant{tenant("a"), tenant("b")}, wantReady: metav1.ConditionTrue, wantReason: twv1.ReasonReconciled, wantCounts: [4]int32{2, 2, 0, 0}, wantRetention: twv1.ReasonReconciled},
		"one waiting": {
			tenants:   []twv1.Tenant{tenant("a"), tenant("b", failing)},
			wantReady: metav1.ConditionFalse, wantReason: twv1.ReasonKeySourceUnavailable, wantCounts: [4]int32{2, 1, 0, 1}, wantRetention: twv1.ReasonReconciled,
			wantFailing: []twv1.TenantKeyProblem{{Tenant: "b", Reason: twv1.ReasonKeySourceUnavailable}},
		},
		"versions kept for lagging consumers: still Ready": {
			tenants:   []twv1.Tenant{tenant("a"), tenant("c", awaiting)},
			wantReady: metav1.ConditionTrue, wantReason: twv1.ReasonReconciled, wantCounts: [4]int32{2, 2, 1, 0},
			wantRetention: twv1.ReasonAwaitingRewrap, retentionQuotes: []string{"1 tenants (c)", "1 versions", "2 consumer"},
		},
		"1000 failing tenants: the status stays small": {
			tenants:   many,
			wantReady: metav1.ConditionFalse, wantReason: twv1.ReasonKeySourceUnavailable, wantCounts: [4]int32{1000, 0, 0, 1000}, wantRetention: twv1.ReasonReconciled,
			wantFailing: many10(), readyQuotes: []string{"1000 of 1000", "t0004 and 995 more"},
		},
		"a namespace not ready yet: TenantNotReady, without a report": {
			tenants:   []twv1.Tenant{tenant("a"), notReady},
			rotateNow: &twv1.KeyRotationRequest{Request: "r1"},
			wantReady: metav1.ConditionFalse, wantReason: twv1.ReasonTenantNotReady, wantCounts: [4]int32{2, 1, 0, 1}, wantRetention: twv1.ReasonReconciled,
			wantFailing:   []twv1.TenantKeyProblem{{Tenant: "new", Reason: twv1.ReasonTenantNotReady}},
			wantRotateNow: &twv1.KeyRotationRequestStatus{Request: "r1", Pending: 2},
		},
		"rotate-now progress counts the named tenants only": {
			tenants:   []twv1.Tenant{tenant("a", rotated), tenant("b"), tenant("c")},
			rotateNow: &twv1.KeyRotationRequest{Request: "r1", Tenants: []string{"a", "b"}},
			wantReady: metav1.ConditionTrue, wantReason: twv1.ReasonReconciled, wantCounts: [4]int32{3, 3, 0, 0}, wantRetention: twv1.ReasonReconciled,
			wantRotateNow: &twv1.KeyRotationRequestStatus{Request: "r1", Rotated: 1, Pending: 1},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			kp := samplePolicy()
			kp.Spec.RotateNow = tc.rotateNow
			st := computeStatus(kp, tc.tenants, now)
			if got := [4]int32{st.TenantCount, st.CurrentCount, st.AwaitingRewrapCount, st.FailingCount}; got != tc.wantCounts || st.ObservedGeneration != 4 {
				t.Errorf("counts %v generation %d, want %v and 4", got, st.ObservedGeneration, tc.wantCounts)
			}
			if !equality.Semantic.DeepEqual(st.Failing, tc.wantFailing) {
				t.Errorf("failing = %+v, want %+v", st.Failing, tc.wantFailing)
			}
			if !equality.Semantic.DeepEqual(st.RotateNow, tc.wantRotateNow) {
				t.Errorf("rotateNow = %+v, want %+v", st.RotateNow, tc.wantRotateNow)
			}
			ready := st.Conditions[0]
			if ready.Type != twv1.ConditionReady || ready.Status != tc.wantReady || ready.Reason != tc.wantReason {
				t.Errorf("Ready = %+v", ready)
			}
			keyrings := conditions.Get(st.Conditions, twv1.KeyPolicyConditionKeyringsReady)
			for _, q := range tc.readyQuotes {
				if !strings.Contains(keyrings.Message, q) {
					t.Errorf("KeyringsReady message %q does not say %q", keyrings.Message, q)
				}
			}
			if len(keyrings.Message) > 1024 {
				t.Errorf("KeyringsReady message grows with the tenants: %d bytes", len(keyrings.Message))
			}
			retention := conditions.Get(st.Conditions, twv1.KeyPolicyConditionRetentionEnforced)
			if retention == nil || retention.Reason != tc.wantRetention || (retention.Status == metav1.ConditionTrue) != (tc.wantRetention == twv1.ReasonReconciled) {
				t.Errorf("RetentionEnforced = %+v, want reason %s", retention, tc.wantRetention)
			}
			for _, q := range tc.retentionQuotes {
				if !strings.Contains(retention.Message, q) {
					t.Errorf("RetentionEnforced message %q does not say %q", retention.Message, q)
				}
			}
		})
	}
}

// many10 is the failing list of 1000 failing tenants: the first ten by name.
func many10() []twv1.TenantKeyProblem {
	out := make([]twv1.TenantKeyProblem, 0, twv1.MaxFailingTenants)
	for i := range twv1.MaxFailingTenants {
		out = append(out, twv1.TenantKeyProblem{Tenant: fmt.Sprintf("t%04d", i), Reason: twv1.ReasonKeySourceUnavailable})
	}
	return out
}
