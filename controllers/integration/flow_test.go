package integration

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// TestFlowDigestChangesExactlyWithTheFlow: every change to what moves where, in which direction
// and when voids an approval; changes to how the workload runs do not.
func TestFlowDigestChangesExactlyWithTheFlow(t *testing.T) {
	base := flowDigest(sampleIntegration())
	if !strings.HasPrefix(base, "sha256:") || len(base) != len("sha256:")+64 {
		t.Fatalf("digest %q is not sha256:<64 hex>", base)
	}
	cases := map[string]struct {
		mutate func(*twv1.Integration)
		voids  bool
	}{
		"source system":      {func(in *twv1.Integration) { in.Spec.Source.System = twv1.SystemZoho }, true},
		"source host":        {func(in *twv1.Integration) { in.Spec.Source.URL = "https://evil.md-hq.com/api/v1" }, true},
		"source path":        {func(in *twv1.Integration) { in.Spec.Source.URL = "https://acme.md-hq.com/api/v2" }, true},
		"destination system": {func(in *twv1.Integration) { in.Spec.Destination.System = twv1.SystemGoHighLevel }, true},
		"destination host":   {func(in *twv1.Integration) { in.Spec.Destination.URL = "https://sandbox-quickbooks.api.intuit.com" }, true},
		"direction (source and destination swapped)": {func(in *twv1.Integration) {
			in.Spec.Source, in.Spec.Destination = in.Spec.Destination, in.Spec.Source
		}, true},
		"egress CIDR added": {func(in *twv1.Integration) {
			in.Spec.Egress = append(in.Spec.Egress, twv1.EgressRule{CIDR: "192.0.2.0/24"})
		}, true},
		"egress CIDR widened": {func(in *twv1.Integration) { in.Spec.Egress[0].CIDR = "203.0.0.0/16" }, true},
		"egress port added":   {func(in *twv1.Integration) { in.Spec.Egress[0].Ports = []int32{443, 8080} }, true},
		"schedule interval": {func(in *twv1.Integration) {
			in.Spec.Schedule = &twv1.Schedule{Interval: &metav1.Duration{Duration: time.Minute}}
		}, true},
		"schedule cron": {func(in *twv1.Integration) { in.Spec.Schedule = &twv1.Schedule{Cron: "0 * * * *"} }, true},
		"field added": {func(in *twv1.Integration) {
			in.Spec.Fields = []twv1.PatientField{"name", "email", "phone", "address"}
		}, true},
		"field removed": {func(in *twv1.Integration) { in.Spec.Fields = []twv1.PatientField{"name", "email"} }, true},

		"default interval written out": {func(in *twv1.Integration) {
			in.Spec.Schedule = &twv1.Schedule{Interval: &metav1.Duration{Duration: DefaultScheduleEvery}}
		}, false},
		"default port written out": {func(in *twv1.Integration) { in.Spec.Egress[0].Ports = []int32{443} }, false},
		"egress reordered": {func(in *twv1.Integration) {
			in.Spec.Egress[0], in.Spec.Egress[1] = in.Spec.Egress[1], in.Spec.Egress[0]
		}, false},
		"ports reordered": {func(in *twv1.Integration) { in.Spec.Egress[1].Ports = []int32{8443, 443} }, false},
		"default fields written out": {func(in *twv1.Integration) {
			in.Spec.Fields = []twv1.PatientField{"name", "email", "phone"}
		}, false},
		"fields reordered": {func(in *twv1.Integration) { in.Spec.Fields = []twv1.PatientField{"phone", "name", "email"} }, false},
		"state paused":     {func(in *twv1.Integration) { in.Spec.State = twv1.StatePaused }, false},
		"state stopped":    {func(in *twv1.Integration) { in.Spec.State = twv1.StateStopped }, false},
		"replicas":         {func(in *twv1.Integration) { in.Spec.Replicas = ptr.To[int32](0) }, false},
		"resources": {func(in *twv1.Integration) {
			in.Spec.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{"memory": resource.MustParse("1Gi")}}
		}, false},
		"credentials refresh interval": {func(in *twv1.Integration) {
			in.Spec.CredentialsRefreshInterval = &metav1.Duration{Duration: 5 * time.Minute}
		}, false},
		"credentials vault path": {func(in *twv1.Integration) { in.Spec.Source.Credentials.RemoteKey = "cerbo/other" }, false},
		"labels and annotations": {func(in *twv1.Integration) {
			in.Labels = map[string]string{"team": "billing"}
			in.Annotations = map[string]string{twv1.FlowAuthorAnnotation: "alice"}
		}, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := flowDigest(sampleIntegration(c.mutate))
			if voided := got != base; voided != c.voids {
				t.Errorf("digest changed = %v, want %v", voided, c.voids)
			}
		})
	}
}
