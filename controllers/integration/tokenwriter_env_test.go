package integration

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"testing"

	esv1alpha1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// TestTokenWriterChildrenFollowTheRotatingSide: an Integration whose destination rotates refresh
// tokens gets the write-back channel, with the exact grant; a token the runtime patched in
// survives the operator's next apply; and when the destination no longer rotates, the channel
// goes and the pods run as the sync ServiceAccount again.
func TestTokenWriterChildrenFollowTheRotatingSide(t *testing.T) {
	ns := setupTenant(t, "writer", true)
	in := newIntegration(ns, "cerbo-qb")
	createIntegration(t, in)
	key := func(name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

	role := &rbacv1.Role{}
	testenv.Eventually(t, timeout, func() error { return k8s.Get(ctx, key("cerbo-qb-token-writer"), role) })
	want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"patch"},
		ResourceNames: []string{"cerbo-qb-rotated-token"}}}
	if !reflect.DeepEqual(role.Rules, want) {
		t.Errorf("rules = %+v, want %+v", role.Rules, want)
	}
	binding := &rbacv1.RoleBinding{}
	sa := &corev1.ServiceAccount{}
	secret := &corev1.Secret{}
	ps := &esv1alpha1.PushSecret{}
	testenv.Eventually(t, timeout, func() error {
		for _, c := range []struct {
			name string
			obj  client.Object
		}{{"cerbo-qb-token-writer", binding}, {"cerbo-qb-token-writer", sa}, {"cerbo-qb-rotated-token", secret}, {"cerbo-qb-rotated-token", ps}} {
			if err := k8s.Get(ctx, key(c.name), c.obj); err != nil {
				return fmt.Errorf("%T %s: %w", c.obj, c.name, err)
			}
		}
		return nil
	})
	if !reflect.DeepEqual(binding.Subjects, []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "cerbo-qb-token-writer", Namespace: ns}}) ||
		binding.RoleRef != (rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "cerbo-qb-token-writer"}) {
		t.Errorf("binding = %+v", binding)
	}
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Errorf("the token writer automounts its token")
	}
	if len(secret.Data) != 0 {
		t.Errorf("the rotated-token Secret was created with %d keys", len(secret.Data))
	}
	if got := ps.Spec.Data; len(got) != 1 || got[0].Match.RemoteRef.RemoteKey != "tenants/writer/quickbooks/oauth" {
		t.Errorf("PushSecret data = %+v", got)
	}

	// The runtime patches its token in; the reconciles that follow (the patch wakes one, the
	// credentials and the Deployment more) leave it alone.
	token := base64.StdEncoding.EncodeToString([]byte("rotated-2"))
	if err := k8s.Patch(ctx, secret, client.RawPatch(types.MergePatchType, []byte(`{"data":{"destination.refresh_token":"`+token+`"}}`)),
		client.FieldOwner("tenantwire-sync")); err != nil {
		t.Fatal(err)
	}
	syncCredentials(t, in, "v1")
	markAvailable(t, in)
	waitCondition(t, in, twv1.ConditionReady, "True", "")
	if err := k8s.Get(ctx, key("cerbo-qb-rotated-token"), secret); err != nil {
		t.Fatal(err)
	}
	if string(secret.Data["destination.refresh_token"]) != "rotated-2" {
		t.Errorf("the operator's apply changed the token writer's data")
	}
	d, err := getDeployment(in)
	if err != nil {
		t.Fatal(err)
	}
	if d.Spec.Template.Spec.ServiceAccountName != "cerbo-qb-token-writer" {
		t.Errorf("sync pods run as %q", d.Spec.Template.Spec.ServiceAccountName)
	}

	// Zoho does not rotate: the channel goes.
	live := getIntegration(t, in)
	live.Spec.Destination.System = twv1.SystemZoho
	live.Spec.Destination.URL = "https://www.zohoapis.com"
	if err := k8s.Update(ctx, live); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, timeout, func() error {
		for _, obj := range []client.Object{&rbacv1.Role{}, &rbacv1.RoleBinding{}, &corev1.ServiceAccount{}} {
			if err := k8s.Get(ctx, key("cerbo-qb-token-writer"), obj); !apierrors.IsNotFound(err) {
				return fmt.Errorf("%T cerbo-qb-token-writer still there (err %v)", obj, err)
			}
		}
		for _, obj := range []client.Object{&corev1.Secret{}, &esv1alpha1.PushSecret{}} {
			if err := k8s.Get(ctx, key("cerbo-qb-rotated-token"), obj); !apierrors.IsNotFound(err) {
				return fmt.Errorf("%T cerbo-qb-rotated-token still there (err %v)", obj, err)
			}
		}
		d, err := getDeployment(in)
		if err != nil {
			return err
		}
		if d.Spec.Template.Spec.ServiceAccountName != "cerbo-qb-sync" {
			return fmt.Errorf("sync pods run as %q", d.Spec.Template.Spec.ServiceAccountName)
		}
		return nil
	})
}
