package integration

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// A private registry must not break every Integration: the platform's pull Secrets
// (--sync-image-pull-secrets) reach the sync pods and the export Job pods, in order; without the
// flag the pods name none.
func TestRuntimePodsCarryThePlatformsPullSecrets(t *testing.T) {
	tests := map[string]struct {
		secrets []string
		want    []corev1.LocalObjectReference
	}{
		"none": {},
		"two":  {secrets: []string{"registry-credentials", "mirror"}, want: []corev1.LocalObjectReference{{Name: "registry-credentials"}, {Name: "mirror"}}},
		"one":  {secrets: []string{"registry-credentials"}, want: []corev1.LocalObjectReference{{Name: "registry-credentials"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := sampleIntegration()
			ip := sampleInputs()
			ip.pullSecrets = tc.secrets
			cm, err := desiredConfigMap(in, ip)
			if err != nil {
				t.Fatal(err)
			}
			pods := map[string]corev1.PodSpec{
				"sync Deployment": desiredDeployment(in, ip, cm).Spec.Template.Spec,
				"export Job":      desiredExportJob(in, ip, &twv1.TenantExport{Request: "ticket-42", ClaimName: "acme-export"}).Spec.Template.Spec,
			}
			for kind, spec := range pods {
				if !reflect.DeepEqual(spec.ImagePullSecrets, tc.want) {
					t.Errorf("%s: imagePullSecrets = %v, want %v", kind, spec.ImagePullSecrets, tc.want)
				}
			}
		})
	}
}
