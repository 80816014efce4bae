package tenant

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// An age X25519 public key (its secret key was discarded) and the same key with its checksum broken:
// CEL cannot tell the second from a real key, the controllers can.
const (
	practiceRecipient = "age1gd289yuhm74w4lxwpzd6ln27fvxlgfsfxrj422wkfdjhmck4dq3qez334m"
	brokenRecipient   = "age1gd289yuhm74w4lxwpzd6ln27fvxlgfsfxrj422wkfdjhmck4dq3qez334n"
	pastedSecretKey   = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
)

func withExport(name string, e twv1.TenantExport) *twv1.Tenant {
	tn := newTenant(name)
	tn.Spec.Export = &e
	return tn
}

// Whoever edits the Tenant cannot ask for an export in clear by leaving the key out, nor seal it to
// something that is not an age public key: the API server refuses it, naming the field.
func TestTenantExportMustBeSealedOrDeliberatelyInClear(t *testing.T) {
	base := twv1.TenantExport{Request: "ticket-1", ClaimName: "export"}
	with := func(f func(*twv1.TenantExport)) twv1.TenantExport { e := base; f(&e); return e }
	tests := map[string]struct {
		export twv1.TenantExport
		want   string
	}{
		"neither recipients nor plaintext": {export: base, want: "spec.export.recipients must name at least one age public key"},
		"explicit plaintext false":         {export: with(func(e *twv1.TenantExport) { e.Plaintext = false }), want: "spec.export.recipients must name at least one age public key"},
		"not an age key": {export: with(func(e *twv1.TenantExport) { e.Recipients = []twv1.AgeRecipient{"age1notakey"} }),
			want: "spec.export.recipients[0]: Invalid value"},
		"an SSH key": {export: with(func(e *twv1.TenantExport) {
			e.Recipients = []twv1.AgeRecipient{practiceRecipient, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"}
		}), want: "spec.export.recipients[1]: Invalid value"},
		"a secret key pasted as recipient": {export: with(func(e *twv1.TenantExport) { e.Recipients = []twv1.AgeRecipient{pastedSecretKey} }),
			want: "spec.export.recipients holds an age secret key"},
		"both recipients and plaintext": {export: with(func(e *twv1.TenantExport) {
			e.Recipients, e.Plaintext = []twv1.AgeRecipient{practiceRecipient}, true
		}), want: "spec.export.plaintext: true and spec.export.recipients exclude each other"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := k8s.Create(context.Background(), withExport("sealing", tc.export), client.DryRunAll)
			if err == nil {
				t.Fatalf("the API server accepted spec.export %+v", tc.export)
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want Invalid mentioning %q", err, tc.want)
			}
			if strings.Contains(err.Error(), pastedSecretKey) {
				t.Errorf("the refusal repeats the secret key: %v", err)
			}
		})
	}
	for name, e := range map[string]twv1.TenantExport{
		"sealed":    with(func(e *twv1.TenantExport) { e.Recipients = []twv1.AgeRecipient{practiceRecipient} }),
		"plaintext": with(func(e *twv1.TenantExport) { e.Plaintext = true }),
	} {
		if err := k8s.Create(context.Background(), withExport("sealing", e), client.DryRunAll); err != nil {
			t.Errorf("%s export refused: %v", name, err)
		}
	}
}

// An export in clear is never quiet: status.export.encryption says None from the moment it is
// requested, and a Warning event records it once.
func TestPlaintextExportIsFlaggedInStatusAndEvents(t *testing.T) {
	create(t, withExport("clear", twv1.TenantExport{Request: "ticket-2", ClaimName: "export", Plaintext: true}))
	create(t, withExport("sealed", twv1.TenantExport{Request: "ticket-3", ClaimName: "export", Recipients: []twv1.AgeRecipient{practiceRecipient}}))
	for name, want := range map[string]twv1.ExportEncryption{"clear": twv1.ExportEncryptionNone, "sealed": twv1.ExportEncryptionAge} {
		testenv.Eventually(t, timeout, func() error {
			tn := &twv1.Tenant{}
			if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, tn); err != nil {
				return err
			}
			if st := tn.Status.Export; st == nil || st.Encryption != want {
				return fmt.Errorf("tenant %s status.export %+v, want encryption %s", name, st, want)
			}
			return nil
		})
	}
	testenv.Eventually(t, timeout, func() error { return expectEvent("clear", "PlaintextExport") })
	// Events are recorded asynchronously: leave the sealed Tenant's a moment to (wrongly) appear.
	time.Sleep(time.Second)
	if err := expectEvent("sealed", "PlaintextExport"); err == nil {
		t.Error("a sealed export was reported as plaintext")
	}
}

func TestExportStatusRefusesAndFlags(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	a := persistentIntegration("a", "a-state")
	tests := map[string]struct {
		export         twv1.TenantExport
		wantPhase      twv1.ExportPhase
		wantEncryption twv1.ExportEncryption
		wantMessage    string
	}{
		"sealed":                           {export: twv1.TenantExport{Recipients: []twv1.AgeRecipient{practiceRecipient}}, wantPhase: twv1.ExportRunning, wantEncryption: twv1.ExportEncryptionAge},
		"plaintext":                        {export: twv1.TenantExport{Plaintext: true}, wantPhase: twv1.ExportRunning, wantEncryption: twv1.ExportEncryptionNone},
		"stored before the CRD refused it": {export: twv1.TenantExport{}, wantPhase: twv1.ExportFailed, wantMessage: "Export refused: spec.export.recipients names no age public key"},
		"checksum broken":                  {export: twv1.TenantExport{Recipients: []twv1.AgeRecipient{practiceRecipient, brokenRecipient}}, wantPhase: twv1.ExportFailed, wantMessage: "spec.export.recipients[1] is not a valid age X25519 public key"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tn := exportingTenant()
			tc.export.Request, tc.export.ClaimName = tn.Spec.Export.Request, tn.Spec.Export.ClaimName
			tn.Spec.Export = &tc.export
			// Refused before offboarding too: the practice learns it while it can still fix it.
			for _, offboarding := range []bool{false, true} {
				st := exportStatus(tn, offboarding, []twv1.Integration{a}, nil, nil, now)
				if !offboarding && tc.wantPhase == twv1.ExportRunning {
					tc.wantPhase = twv1.ExportPending
				}
				if st.Phase != tc.wantPhase || st.Encryption != tc.wantEncryption || !strings.Contains(st.Message, tc.wantMessage) {
					t.Errorf("offboarding=%v: got %+v, want phase %s, encryption %q, message %q", offboarding, st, tc.wantPhase, tc.wantEncryption, tc.wantMessage)
				}
				if strings.Contains(st.Message, brokenRecipient) {
					t.Errorf("the refusal repeats the recipient: %s", st.Message)
				}
				if tc.wantPhase == twv1.ExportPending {
					tc.wantPhase = twv1.ExportRunning
				}
			}
		})
	}
}
