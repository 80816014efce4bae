package keypolicy

import (
	"bytes"
	"strings"
	"testing"
	"time"

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
	ok := func(name string) tenantResult {
		return tenantResult{status: twv1.TenantKeyStatus{Tenant: name, ActiveVersion: 1}}
	}
	awaiting := ok("c")
	awaiting.held, awaiting.lagging, awaiting.consumers = 1, 2, 3
	tests := map[string]struct {
		results         []tenantResult
		wantReady       metav1.ConditionStatus
		wantReason      string
		wantCount       int32
		wantRetention   string
		retentionQuotes []string
	}{
		"no tenants":  {wantReady: metav1.ConditionTrue, wantReason: twv1.ReasonReconciled, wantCount: 0, wantRetention: twv1.ReasonReconciled},
		"all current": {results: []tenantResult{ok("b"), ok("a")}, wantReady: metav1.ConditionTrue, wantReason: twv1.ReasonReconciled, wantCount: 2, wantRetention: twv1.ReasonReconciled},
		"one waiting": {
			results:   []tenantResult{ok("a"), {status: twv1.TenantKeyStatus{Tenant: "b"}, problem: &conditionsProblem}},
			wantReady: metav1.ConditionFalse, wantReason: twv1.ReasonKeySourceUnavailable, wantCount: 2, wantRetention: twv1.ReasonReconciled,
		},
		"versions kept for lagging consumers: still Ready": {
			results:   []tenantResult{ok("a"), awaiting},
			wantReady: metav1.ConditionTrue, wantReason: twv1.ReasonReconciled, wantCount: 2,
			wantRetention: twv1.ReasonAwaitingRewrap, retentionQuotes: []string{"1 tenants (c)", "1 versions", "2 consumer"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := computeStatus(samplePolicy(), tc.results, now)
			if st.TenantCount != tc.wantCount || st.ObservedGeneration != 4 {
				t.Errorf("count %d generation %d", st.TenantCount, st.ObservedGeneration)
			}
			ready := st.Conditions[0]
			if ready.Type != twv1.ConditionReady || ready.Status != tc.wantReady || ready.Reason != tc.wantReason {
				t.Errorf("Ready = %+v", ready)
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
			for i := 1; i < len(st.Tenants); i++ {
				if st.Tenants[i-1].Tenant > st.Tenants[i].Tenant {
					t.Errorf("tenants not sorted: %+v", st.Tenants)
				}
			}
		})
	}
}
