package status

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/metrics"
	"github.com/tenantwire/tenantwire/internal/scheme"
)

var testKind = Kind[twv1.TenantStatus]{
	Name:               "StatusTestTenant",
	Conditions:         func(s *twv1.TenantStatus) []metav1.Condition { return s.Conditions },
	ObservedGeneration: func(s *twv1.TenantStatus) int64 { return s.ObservedGeneration },
}

// TestWriteCountsWritesByReadyReason: each status write is counted under the reason of the Ready
// condition it wrote, and a status that did not change is neither written nor counted.
func TestWriteCountsWritesByReadyReason(t *testing.T) {
	tn := &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "counted", Generation: 1}}
	c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(tn).WithStatusSubresource(tn).Build()
	w := Writer{Client: c, Recorder: record.NewFakeRecorder(10)}
	now := metav1.NewTime(time.Now().Truncate(time.Second)) // as the API server stores it
	withReady := func(status metav1.ConditionStatus, reason string) twv1.TenantStatus {
		st := twv1.TenantStatus{ObservedGeneration: 1}
		conditions.Set(&st.Conditions, 1, twv1.ConditionReady, status, reason, reason, now)
		return st
	}
	steps := []struct {
		next   twv1.TenantStatus
		reason string
		want   float64
	}{
		{next: withReady(metav1.ConditionFalse, twv1.ReasonApplyFailed), reason: twv1.ReasonApplyFailed, want: 1},
		{next: withReady(metav1.ConditionTrue, twv1.ReasonReconciled), reason: twv1.ReasonReconciled, want: 1},
		{next: withReady(metav1.ConditionTrue, twv1.ReasonReconciled), reason: twv1.ReasonReconciled, want: 1},
		{next: twv1.TenantStatus{ObservedGeneration: 1}, reason: "", want: 1},
	}
	for i, s := range steps {
		if _, err := Write(context.Background(), w, tn, testKind, &tn.Status, s.next); err != nil {
			t.Fatal(err)
		}
		if got := testutil.ToFloat64(metrics.StatusWrites.WithLabelValues(testKind.Name, s.reason)); got != s.want {
			t.Errorf("step %d: writes counted with reason %q = %v, want %v", i, s.reason, got, s.want)
		}
	}
}
