package tenant

import (
	"context"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// A Tenant's admins, viewers and approvers are bound in its namespace as written. The API server's own
// identities (system:*) stand for people and workloads far beyond one practice, so a Tenant naming
// one is refused at apply time, with the subject in the message.
func TestTenantRefusesReservedSubjects(t *testing.T) {
	reserved := []twv1.Subject{
		{Kind: twv1.SubjectGroup, Name: "system:authenticated"},
		{Kind: twv1.SubjectGroup, Name: "system:serviceaccounts"},
		{Kind: twv1.SubjectGroup, Name: "system:serviceaccounts:kube-system"},
		{Kind: twv1.SubjectUser, Name: "system:serviceaccount:kube-system:default"},
		{Kind: twv1.SubjectGroup, Name: "system:masters"},
		{Kind: twv1.SubjectGroup, Name: "system:unauthenticated"},
		{Kind: twv1.SubjectUser, Name: "system:anonymous"},
		{Kind: twv1.SubjectUser, Name: "system:kube-controller-manager"},
	}
	for _, s := range reserved {
		want := "subject " + string(s.Kind) + " " + s.Name + " is reserved by Kubernetes"
		t.Run("admin "+s.Name, func(t *testing.T) {
			expectInvalid(t, newTenant("reserved", s), want)
		})
		t.Run("viewer "+s.Name, func(t *testing.T) {
			tn := newTenant("reserved")
			tn.Spec.Viewers = append(tn.Spec.Viewers, s)
			expectInvalid(t, tn, want)
		})
		t.Run("approver "+s.Name, func(t *testing.T) {
			tn := newTenant("reserved")
			tn.Spec.Approvers = append(tn.Spec.Approvers, s)
			expectInvalid(t, tn, want)
		})
	}

	// An existing Tenant cannot be changed to name one either.
	tn := newTenant("subjects", twv1.Subject{Kind: twv1.SubjectUser, Name: "oidc:alice@acme.example"})
	create(t, tn)
	base := tn.DeepCopy()
	tn.Spec.Viewers = append(tn.Spec.Viewers, twv1.Subject{Kind: twv1.SubjectGroup, Name: "system:authenticated"})
	err := k8s.Patch(context.Background(), tn, client.MergeFrom(base))
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "subject Group system:authenticated is reserved") {
		t.Errorf("update error = %v, want Invalid naming the subject", err)
	}
}

func TestTenantAcceptsIdentityProviderSubjects(t *testing.T) {
	for _, s := range []twv1.Subject{
		{Kind: twv1.SubjectUser, Name: "oidc:alice@acme.example"},
		{Kind: twv1.SubjectUser, Name: "alice@acme.example"},
		{Kind: twv1.SubjectGroup, Name: "oidc:acme-admins"},
		{Kind: twv1.SubjectGroup, Name: "acme:system:admins"},
		{Kind: twv1.SubjectGroup, Name: "systems-team"},
	} {
		if err := k8s.Create(context.Background(), newTenant("oidc", s), client.DryRunAll); err != nil {
			t.Errorf("subject %s %s refused: %v", s.Kind, s.Name, err)
		}
	}
}

func expectInvalid(t *testing.T, tn *twv1.Tenant, want string) {
	t.Helper()
	err := k8s.Create(context.Background(), tn, client.DryRunAll)
	if err == nil {
		t.Fatalf("the API server accepted a Tenant binding %v", slices.Concat(tn.Spec.Admins, tn.Spec.Viewers, tn.Spec.Approvers))
	}
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want Invalid mentioning %q", err, want)
	}
}
