package integration

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/labels"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
	"github.com/tenantwire/tenantwire/internal/secretpath"
)

// Without External Secrets Operator the Integration says so and re-checks later, without
// building anything, crashing or retrying hot.
func TestMissingExternalSecretsCRDIsACondition(t *testing.T) {
	scheme := twscheme.New()
	tn := sampleTenant()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "tenant-acme", Labels: map[string]string{labels.ManagedBy: labels.ManagedByValue, labels.Tenant: "acme"}}}
	in := sampleIntegration()
	in.ResourceVersion = ""
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(tn, ns, in).WithStatusSubresource(in).
		WithIndex(&twv1.Tenant{}, secretpath.IndexField, secretpath.Keys).Build()

	// A REST mapper that knows the built-in kinds but not external-secrets.io.
	mapper := meta.NewDefaultRESTMapper([]schema.GroupVersion{corev1.SchemeGroupVersion})
	mapper.Add(corev1.SchemeGroupVersion.WithKind("Namespace"), meta.RESTScopeRoot)
	r := (&Reconciler{Client: c, Scheme: scheme, RESTMapper: mapper, Recorder: record.NewFakeRecorder(10),
		Clock: clocktesting.NewFakePassiveClock(time.Now()), SyncImage: "tenantwire:test"}).complete()

	res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(in)})
	if err != nil {
		t.Fatalf("reconcile returned %v; a missing ESO is not an error to retry hot", err)
	}
	if res.RequeueAfter < 4*time.Minute || res.RequeueAfter > 7*time.Minute {
		t.Errorf("RequeueAfter = %s, want about %s", res.RequeueAfter, esoRecheck)
	}
	got := &twv1.Integration{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(in), got); err != nil {
		t.Fatal(err)
	}
	ready := conditions.Get(got.Status.Conditions, twv1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != twv1.ReasonExternalSecretsMissing {
		t.Errorf("Ready = %+v, want False/%s", ready, twv1.ReasonExternalSecretsMissing)
	}
	if conditions.IsTrue(got.Status.Conditions, twv1.ConditionStalled) {
		t.Error("a missing ESO is fixable by installing it, not a stalled spec")
	}
}
