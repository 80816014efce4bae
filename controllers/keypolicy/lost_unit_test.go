package keypolicy

import (
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/keyring"
)

func TestDecideLoss(t *testing.T) {
	material := func(b byte) keyring.Material {
		return keyring.Material{EncryptionKey: bytes.Repeat([]byte{b}, keyring.KeySize), HMACKey: bytes.Repeat([]byte{b + 1}, keyring.KeySize)}
	}
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	v1 := keyring.AddVersion(nil, "AES-256-GCM", material(1), now)
	v2 := keyring.AddVersion(v1, "AES-256-GCM", material(3), now)
	trimmed := keyring.Trim(v2, 0)
	other := keyring.AddVersion(nil, "AES-256-GCM", material(5), now)
	fp1, fp2 := v1.ActiveVersion().Fingerprint(), v2.ActiveVersion().Fingerprint()
	tenant := func(annotations ...string) *twv1.Tenant {
		tn := &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Annotations: map[string]string{}}}
		for i := 0; i+1 < len(annotations); i += 2 {
			tn.Annotations[annotations[i]] = annotations[i+1]
		}
		return tn
	}
	recorded := func(version, fp string, more ...string) *twv1.Tenant {
		return tenant(append([]string{twv1.KeyringVersionAnnotation, version, twv1.KeyringFingerprintAnnotation, fp}, more...)...)
	}
	ack := func(fp string) []string { return []string{twv1.AcknowledgeKeyringLossAnnotation, fp} }
	tests := map[string]struct {
		tenant       *twv1.Tenant
		current      *keyring.Keyring
		lost, acked  bool
		wantInReport string
	}{
		"new tenant, no keyring yet":                       {tenant: tenant()},
		"keyring from before the record":                   {tenant: tenant(), current: v1},
		"recorded keyring present":                         {tenant: recorded("1", fp1), current: v1},
		"rotated since the record, recorded one kept":      {tenant: recorded("1", fp1), current: v2},
		"recorded version trimmed after the next rotation": {tenant: recorded("2", fp2), current: trimmed},
		"keyring gone":                                     {tenant: recorded("1", fp1), lost: true, wantInReport: "Secret is gone"},
		"another keyring in its place":                     {tenant: recorded("1", fp1), current: other, lost: true, wantInReport: "holds active version 1 (fingerprint " + other.ActiveVersion().Fingerprint()},
		"an older backup, without the recorded version":    {tenant: recorded("2", fp2), current: v1, lost: true, wantInReport: "holds active version 1"},
		"acknowledged with another fingerprint":            {tenant: recorded("1", fp1, ack(fp2)...), lost: true, wantInReport: "Secret is gone"},
		"acknowledged by its fingerprint":                  {tenant: recorded("1", fp1, ack(fp1)...), acked: true},
		"acknowledged, another keyring present":            {tenant: recorded("1", fp1, ack(fp1)...), current: other, acked: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := decideLoss(tc.tenant, tc.current)
			if (d.problem != nil) != tc.lost || d.acknowledged != tc.acked {
				t.Fatalf("problem %+v acknowledged %v, want lost %v acknowledged %v", d.problem, d.acknowledged, tc.lost, tc.acked)
			}
			if !tc.lost {
				return
			}
			if d.problem.Reason != twv1.ReasonKeyringLost || !d.problem.Stalled {
				t.Errorf("problem %+v, want a Stalled KeyringLost", d.problem)
			}
			if !strings.Contains(d.problem.Message, tc.wantInReport) || !strings.Contains(d.problem.Message, "acme") {
				t.Errorf("message %q does not name the tenant and %q", d.problem.Message, tc.wantInReport)
			}
		})
	}
}
