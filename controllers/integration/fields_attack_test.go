package integration

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
)

// phiToWebhook is what a tenant admin writes to send the practice's patients' dates of birth to a
// webhook receiver, a system the platform has no business associate agreement for. It is written
// as a manifest, as the tenant admin would apply it.
const phiToWebhook = `
apiVersion: tenantwire.io/v1alpha1
kind: Integration
metadata:
  name: %NAME%
  namespace: %NS%
spec:
  fields: [name, dateOfBirth]
  source:
    system: cerbo
    url: https://acme.md-hq.com/api/v1
    credentials: {remoteKey: cerbo/api}
  destination:
    system: webhook
    url: https://hooks.example.com/patients
    credentials: {remoteKey: webhook/signing}
  egress:
  - cidr: 203.0.113.0/24
`

func applyManifest(t *testing.T, manifest, ns, name string) *twv1.Integration {
	t.Helper()
	u := &unstructured.Unstructured{}
	m := strings.NewReplacer("%NAME%", name, "%NS%", ns).Replace(manifest)
	if err := yaml.Unmarshal([]byte(m), &u.Object); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	in := &twv1.Integration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	t.Cleanup(func() { _ = k8s.Delete(ctx, in) })
	return in
}

// nestedFields reads a list of field names (spec.fields, status.fields) as the API server stored
// it, whether or not the API types have it.
func nestedFields(t *testing.T, in *twv1.Integration, path ...string) []string {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(twv1.GroupVersion.WithKind("Integration"))
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(in), u); err != nil {
		t.Fatal(err)
	}
	fields, _, _ := unstructured.NestedStringSlice(u.Object, path...)
	return fields
}

// assertNoConfigWith fails if the Integration's sync configuration exists and names the field.
func assertNoConfigWith(t *testing.T, in *twv1.Integration, field string) {
	t.Helper()
	cm := &corev1.ConfigMap{}
	switch err := k8s.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: configName(in)}, cm); {
	case apierrors.IsNotFound(err):
		return
	case err != nil:
		t.Fatal(err)
	}
	cfg, err := syncconfig.Unmarshal([]byte(cm.Data[syncconfig.FileName]))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range cfg.Fields {
		if f == field {
			t.Errorf("ConfigMap %s authorizes %s for destination %s: %v", cm.Name, field, cfg.Destination.System, cfg.Fields)
		}
	}
}

func assertFieldsNotCovered(t *testing.T, in *twv1.Integration) {
	t.Helper()
	got := waitCondition(t, in, twv1.ConditionReady, metav1.ConditionFalse, "FieldsNotCovered")
	if !conditions.IsTrue(got.Status.Conditions, twv1.ConditionStalled) {
		t.Errorf("want Stalled, have %+v", got.Status.Conditions)
	}
	const want = "spec.fields: dateOfBirth is protected health information, and the destination system webhook is not covered"
	if c := conditions.Get(got.Status.Conditions, twv1.ConditionReady); !strings.Contains(c.Message, want) {
		t.Errorf("message %q, want it to contain %q", c.Message, want)
	}
	if fields := nestedFields(t, in, "status", "fields"); len(fields) != 0 {
		t.Errorf("status.fields = %v while nothing moves, want none", fields)
	}
	expectWarning(t, in, "FieldsNotCovered")
}

// TestPHIToAnUncoveredDestinationNeverRenders plays a tenant admin who authorizes a patient's
// date of birth to a webhook receiver on a platform with no business associate agreement for
// webhooks: the date of birth must never be authorized in a sync configuration, for a new
// Integration and for one that was running with the minimum.
func TestPHIToAnUncoveredDestinationNeverRenders(t *testing.T) {
	ns := setupTenant(t, "phi", true)

	fresh := applyManifest(t, phiToWebhook, ns, "phi-fresh")
	if got := nestedFields(t, fresh, "spec", "fields"); strings.Join(got, ",") != "name,dateOfBirth" {
		t.Fatalf("the API server stored spec.fields as %v: the practice's authorization was dropped, so nothing limits what the sync sends", got)
	}
	assertFieldsNotCovered(t, fresh)
	assertNothingBuilt(t, fresh)
	assertNoConfigWith(t, fresh, "dateOfBirth")

	running := applyManifest(t, strings.Replace(phiToWebhook, "[name, dateOfBirth]", "[name, email]", 1), ns, "phi-running")
	syncCredentials(t, running, "v1")
	markAvailable(t, running)
	waitCondition(t, running, twv1.ConditionReady, metav1.ConditionTrue, "")
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"fields":["name","dateOfBirth"]}}`))
	if err := k8s.Patch(ctx, running, patch); err != nil {
		t.Fatal(err)
	}
	assertFieldsNotCovered(t, running)
	if _, err := getDeployment(running); !apierrors.IsNotFound(err) {
		t.Errorf("the sync Deployment still runs after PHI was authorized to an uncovered destination (err=%v)", err)
	}
	assertNoConfigWith(t, running, "dateOfBirth")
}
