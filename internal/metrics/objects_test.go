package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
)

// TestObjectCollector: each Tenant, Integration and KeyPolicy reports its Ready condition, each
// tenant in a policy's status its key age (growing with the clock) and next rotation, an
// Integration that waits for approval since when, an offboarding tenant not yet purged when its
// purge is due; nothing is reported when the cache cannot be read.
func TestObjectCollector(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ready := func(s metav1.ConditionStatus) []metav1.Condition {
		return []metav1.Condition{{Type: twv1.ConditionReady, Status: s, Reason: "R"}}
	}
	rotated := metav1.NewTime(now.Add(-90 * time.Second))
	next := metav1.NewTime(now.Add(24 * time.Hour))
	waiting := metav1.NewTime(now.Add(-26 * time.Hour))
	purgeAfter := metav1.NewTime(now.Add(-2 * time.Hour))
	approval := func(s metav1.ConditionStatus) []metav1.Condition {
		return append(ready(metav1.ConditionFalse), metav1.Condition{Type: twv1.IntegrationConditionApproved, Status: s, Reason: "R", LastTransitionTime: waiting})
	}
	objs := []client.Object{
		&twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme"}, Status: twv1.TenantStatus{Conditions: ready(metav1.ConditionTrue),
			Keyring: &twv1.TenantKeyringStatus{Policy: "standard", LastRotation: &rotated, NextRotation: &next}}},
		&twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "new"}, Status: twv1.TenantStatus{Keyring: &twv1.TenantKeyringStatus{Policy: "standard"}}},
		&twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "leaving"}, Status: twv1.TenantStatus{PurgeAfter: &purgeAfter}},
		&twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "gone"}, Status: twv1.TenantStatus{PurgeAfter: &purgeAfter, PurgedAt: &rotated,
			Keyring: &twv1.TenantKeyringStatus{Policy: "standard", LastRotation: &rotated}}},
		&twv1.Integration{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-acme", Name: "crm"}, Status: twv1.IntegrationStatus{Conditions: ready(metav1.ConditionFalse)}},
		&twv1.Integration{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-acme", Name: "waits"}, Status: twv1.IntegrationStatus{Conditions: approval(metav1.ConditionFalse)}},
		&twv1.Integration{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-acme", Name: "approved"}, Status: twv1.IntegrationStatus{Conditions: approval(metav1.ConditionTrue)}},
		&twv1.KeyPolicy{ObjectMeta: metav1.ObjectMeta{Name: "standard"}, Status: twv1.KeyPolicyStatus{Conditions: ready(metav1.ConditionTrue)}},
	}
	c := ObjectCollector{Reader: fake.NewClientBuilder().WithScheme(twscheme.New()).WithObjects(objs...).Build(), Clock: clocktesting.NewFakePassiveClock(now)}
	want := `
# HELP tenantwire_integration_awaiting_approval_since_timestamp_seconds Unix time since which an Integration's flow has waited for an approval (its Approved condition is False).
# TYPE tenantwire_integration_awaiting_approval_since_timestamp_seconds gauge
tenantwire_integration_awaiting_approval_since_timestamp_seconds{integration="waits",namespace="tenant-acme"} 1.7960328e+09
# HELP tenantwire_key_age_seconds Age of the active keyring version of a tenant.
# TYPE tenantwire_key_age_seconds gauge
tenantwire_key_age_seconds{tenant="acme"} 90
# HELP tenantwire_key_next_rotation_timestamp_seconds Unix time of the next scheduled keyring rotation of a tenant.
# TYPE tenantwire_key_next_rotation_timestamp_seconds gauge
tenantwire_key_next_rotation_timestamp_seconds{tenant="acme"} 1.7962128e+09
# HELP tenantwire_resource_ready 1 when the resource's Ready condition is True, 0 otherwise.
# TYPE tenantwire_resource_ready gauge
tenantwire_resource_ready{kind="Integration",name="approved",namespace="tenant-acme"} 0
tenantwire_resource_ready{kind="Integration",name="crm",namespace="tenant-acme"} 0
tenantwire_resource_ready{kind="Integration",name="waits",namespace="tenant-acme"} 0
tenantwire_resource_ready{kind="KeyPolicy",name="standard",namespace=""} 1
tenantwire_resource_ready{kind="Tenant",name="acme",namespace=""} 1
tenantwire_resource_ready{kind="Tenant",name="gone",namespace=""} 0
tenantwire_resource_ready{kind="Tenant",name="leaving",namespace=""} 0
tenantwire_resource_ready{kind="Tenant",name="new",namespace=""} 0
# HELP tenantwire_tenant_purge_after_timestamp_seconds Unix time after which an offboarding tenant's keys and namespace are to be destroyed, until they are.
# TYPE tenantwire_tenant_purge_after_timestamp_seconds gauge
tenantwire_tenant_purge_after_timestamp_seconds{tenant="leaving"} 1.7961192e+09
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}

	failing := ObjectCollector{Clock: c.Clock, Reader: fake.NewClientBuilder().WithScheme(twscheme.New()).WithObjects(objs...).
		WithInterceptorFuncs(interceptor.Funcs{List: func(_ context.Context, _ client.WithWatch, list client.ObjectList, _ ...client.ListOption) error {
			if _, ok := list.(*twv1.KeyPolicyList); ok {
				return errors.New("not cached")
			}
			return nil
		}}).Build()}
	if n := testutil.CollectAndCount(failing); n != 0 {
		t.Errorf("collected %d metrics from a cache that fails, want none", n)
	}
}
