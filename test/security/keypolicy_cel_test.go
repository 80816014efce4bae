package security

import (
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// TestKeyPolicyKeepsEachTenantOnItsOwnVaultPath: an external KeyPolicy whose path template would
// hand every tenant the same key, or climb out of the tenants' tree, is refused at admission by
// the CRD's CEL rules, with a message naming the field.
func TestKeyPolicyKeepsEachTenantOnItsOwnVaultPath(t *testing.T) {
	tests := map[string]struct {
		template, wantMsg string
	}{
		"one key for every tenant": {template: "shared/id-key", wantMsg: "remoteKeyTemplate must contain {tenant}"},
		"a path out of the tree":   {template: "tenants/{tenant}/../../platform/id-key", wantMsg: "remoteKeyTemplate must not contain '..'"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			kp := &twv1.KeyPolicy{ObjectMeta: metav1.ObjectMeta{Name: "external-" + strings.ReplaceAll(name, " ", "-")}, Spec: twv1.KeyPolicySpec{
				Source: twv1.KeySource{Type: twv1.KeySourceExternal, External: &twv1.ExternalKeySource{
					StoreRef: twv1.KeyStoreRef{Name: "vault"}, RemoteKeyTemplate: tc.template}},
				Rotation: twv1.KeyRotation{Period: metav1.Duration{Duration: 24 * time.Hour}},
			}}
			err := admin.Create(ctx, kp)
			if err == nil {
				_ = admin.Delete(ctx, kp)
				t.Fatalf("KeyPolicy with remoteKeyTemplate %q was admitted", tc.template)
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.source.external.remoteKeyTemplate") || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %v, want Invalid on spec.source.external.remoteKeyTemplate with %q", err, tc.wantMsg)
			}
		})
	}
}

// TestKeyPolicyRotateNowNamesARequest: spec.rotateNow.request is compared with what each tenant
// reports in status.keyring.rotationRequest, so it must be a plain name; anything else is refused
// at admission with the field named.
func TestKeyPolicyRotateNowNamesARequest(t *testing.T) {
	for name, request := range map[string]string{"empty": "", "spaces": "incident 42", "too long": strings.Repeat("a", 64)} {
		t.Run(name, func(t *testing.T) {
			kp := &twv1.KeyPolicy{ObjectMeta: metav1.ObjectMeta{Name: "rotate-now-" + strings.ReplaceAll(name, " ", "-")}, Spec: twv1.KeyPolicySpec{
				Rotation:  twv1.KeyRotation{Period: metav1.Duration{Duration: 24 * time.Hour}},
				RotateNow: &twv1.KeyRotationRequest{Request: request},
			}}
			err := admin.Create(ctx, kp)
			if err == nil {
				_ = admin.Delete(ctx, kp)
				t.Fatalf("KeyPolicy with rotateNow.request %q was admitted", request)
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.rotateNow.request") {
				t.Errorf("err = %v, want Invalid on spec.rotateNow.request", err)
			}
		})
	}
}
