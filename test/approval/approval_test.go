package approval

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/controllers/tenant"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

const (
	approvalsPolicy = "tenantwire-integration-approvals"
	authorPolicy    = "tenantwire-integration-author"
	digest          = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	timeout         = 30 * time.Second
)

var ctx = context.Background()

// tenantReady is set once the Tenant's roles are bound, eddie holds edit and adele admin.
var tenantReady bool

// setupTenant installs the shipped tenant roles, the roles tenantwire aggregates to the built-in
// ones, and the Tenant, waits for the Tenant controller to bind them, and gives eddie the built-in
// edit role and adele the built-in admin role in the tenant namespace.
func setupTenant(t *testing.T) {
	t.Helper()
	if tenantReady {
		return
	}
	var roles []client.Object
	for _, file := range []string{"config/rbac/tenant_roles.yaml", "config/rbac/aggregated_roles.yaml"} {
		objs, err := manifests(file)
		if err != nil {
			t.Fatal(err)
		}
		roles = append(roles, objs...)
	}
	for _, o := range append(roles, sampleTenant()) {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatalf("creating %s: %v", o.GetName(), err)
		}
	}
	testenv.Eventually(t, timeout, func() error {
		return admin.Get(ctx, client.ObjectKey{Namespace: tenantNS, Name: tenant.ApproversBindingName}, &rbacv1.RoleBinding{})
	})
	for user, aggregates := range map[string][]string{
		eddie: {"aggregate-to-edit", "aggregate-to-view"},
		adele: {"aggregate-to-admin", "aggregate-to-edit", "aggregate-to-view"},
	} {
		role, err := builtInRole(ctx, "built-in-"+user, aggregates...)
		if err != nil {
			t.Fatal(err)
		}
		if err := admin.Create(ctx, role); err != nil {
			t.Fatal(err)
		}
		if err := admin.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: tenantNS},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}}); err != nil {
			t.Fatal(err)
		}
	}
	tenantReady = true
}

func allowed(t *testing.T, user, verb, resource string) bool {
	t.Helper()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user, Groups: groupsOf(user),
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: tenantNS, Verb: verb, Group: twv1.GroupVersion.Group,
			Version: twv1.GroupVersion.Version, Resource: resource},
	}}
	if err := admin.Create(ctx, sar); err != nil {
		t.Fatal(err)
	}
	return sar.Status.Allowed
}

func approval(name, by string, groups ...string) *twv1.IntegrationApproval {
	return &twv1.IntegrationApproval{ObjectMeta: metav1.ObjectMeta{Namespace: tenantNS, Name: name},
		Spec: twv1.IntegrationApprovalSpec{Integration: "cerbo-qb", FlowDigest: digest, ApprovedBy: by, ApproverGroups: groups}}
}

// Only the Tenant's approvers may create or delete IntegrationApprovals: not its admins, not its
// viewers, not a holder of the built-in edit or admin role (tenantwire-view aggregates reads of
// the kind to them, and nothing more), and nobody may update one. The RBAC authorizer's answers
// are then tried for real.
func TestOnlyApproversMayWriteApprovals(t *testing.T) {
	setupTenant(t)
	want := map[string]map[string]bool{
		alice: {"create": true, "delete": true, "update": false, "patch": false, "get": true},
		dave:  {"create": true, "delete": true, "update": false, "patch": false, "get": true},
		ann:   {"create": false, "delete": false, "update": false, "patch": false, "get": true},
		vic:   {"create": false, "delete": false, "update": false, "patch": false, "get": true},
		eddie: {"create": false, "delete": false, "update": false, "patch": false, "deletecollection": false, "get": true},
		adele: {"create": false, "delete": false, "update": false, "patch": false, "deletecollection": false, "get": true},
	}
	testenv.Eventually(t, timeout, func() error {
		var wrong []string
		for user, verbs := range want {
			for verb, ok := range verbs {
				if got := allowed(t, user, verb, "integrationapprovals"); got != ok {
					wrong = append(wrong, fmt.Sprintf("%s %s integrationapprovals: allowed=%v, want %v", user, verb, got, ok))
				}
			}
		}
		if len(wrong) > 0 {
			return fmt.Errorf("%s", strings.Join(wrong, "; "))
		}
		return nil
	})

	if err := clients[alice].Create(ctx, approval("by-alice", alice)); err != nil {
		t.Fatalf("alice, an approver, cannot approve: %v", err)
	}
	for _, user := range []string{ann, vic, eddie, adele} {
		err := clients[user].Create(ctx, approval("by-"+user, user))
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "cannot create resource \"integrationapprovals\"") {
			t.Errorf("%s created an approval, want RBAC's refusal: %v", user, err)
		}
	}
	byAlice := &twv1.IntegrationApproval{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: tenantNS, Name: "by-alice"}, byAlice); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{ann, eddie, adele} {
		changed := byAlice.DeepCopy()
		changed.Spec.FlowDigest = strings.Replace(digest, "0123", "ffff", 1)
		if err := clients[user].Update(ctx, changed); !apierrors.IsForbidden(err) {
			t.Errorf("%s updated alice's approval, want RBAC's refusal: %v", user, err)
		}
		if err := clients[user].Delete(ctx, byAlice.DeepCopy()); !apierrors.IsForbidden(err) {
			t.Errorf("%s deleted alice's approval, want RBAC's refusal: %v", user, err)
		}
	}

	// Not even a cluster administrator changes an approval: the spec is immutable.
	changed := byAlice.DeepCopy()
	changed.Spec.ApprovedBy = "mallory"
	if err := admin.Update(ctx, changed); err == nil || !strings.Contains(err.Error(), "IntegrationApproval spec is immutable") {
		t.Errorf("an approval's spec changed, want the CRD's refusal: %v", err)
	}
	if err := clients[alice].Delete(ctx, byAlice); err != nil {
		t.Errorf("alice cannot revoke her approval: %v", err)
	}
}

// attempt is one request by one user; suffix keeps apart the objects of the run without the
// policies and the run with them.
type attempt struct {
	as string
	do func(c client.Client, suffix string) error
}

type attack struct {
	attempt
	policy, message string
}

// sampleIntegration is a valid Integration authored (annotated) by author, or by nobody.
func sampleIntegration(name, author string) *twv1.Integration {
	in := &twv1.Integration{ObjectMeta: metav1.ObjectMeta{Namespace: tenantNS, Name: name},
		Spec: twv1.IntegrationSpec{
			Source: twv1.Endpoint{System: twv1.SystemCerbo, URL: "https://acme.md-hq.com/api/v1",
				Credentials: twv1.Credentials{RemoteKey: "cerbo/api"}},
			Destination: twv1.Endpoint{System: twv1.SystemQuickBooks, URL: "https://quickbooks.api.intuit.com",
				Credentials: twv1.Credentials{RemoteKey: "quickbooks/oauth"}},
			Egress: []twv1.EgressRule{{CIDR: "203.0.113.0/24"}},
		}}
	if author != "" {
		in.Annotations = map[string]string{twv1.FlowAuthorAnnotation: author}
	}
	return in
}

// annsIntegration creates, as the admin ann, an Integration she authored, and returns a change
// of it made by c.
func annsIntegration(name string, change func(*twv1.Integration)) func(c client.Client, suffix string) error {
	return func(c client.Client, suffix string) error {
		in := sampleIntegration(name+suffix, ann)
		if err := clients[ann].Create(ctx, in); err != nil {
			return fmt.Errorf("ann creating her Integration: %w", err)
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(in), in); err != nil {
			return err
		}
		change(in)
		return c.Update(ctx, in)
	}
}

func moreEgress(in *twv1.Integration) {
	in.Spec.Egress = append(in.Spec.Egress, twv1.EgressRule{CIDR: "198.51.100.0/24"})
}

func attacks() map[string]attack {
	const notTheRequester = "must be the user who creates it, alice, not bob"
	return map[string]attack{
		"an approver names someone else as the approver": {attempt{alice, func(c client.Client, suffix string) error {
			return c.Create(ctx, approval("forged"+suffix, bob))
		}}, approvalsPolicy, notTheRequester},
		"an approver claims a group she is not in": {attempt{alice, func(c client.Client, suffix string) error {
			return c.Create(ctx, approval("group"+suffix, alice, approverGroup))
		}}, approvalsPolicy, "not a member of: " + approverGroup},
		"an author records someone else as the flow's author": {attempt{ann, func(c client.Client, suffix string) error {
			return c.Create(ctx, sampleIntegration("framed"+suffix, bob))
		}}, authorPolicy, "must name the user who changes the flow, ann (or be removed), not bob"},
		"an admin changes the flow and leaves the previous author in place": {attempt{bob, annsIntegration("egress",
			moreEgress)}, authorPolicy, "must name the user who changes the flow, bob (or be removed), not ann"},
		"an admin makes himself the author without changing the flow": {attempt{bob, annsIntegration("claimed",
			func(in *twv1.Integration) { in.Annotations[twv1.FlowAuthorAnnotation] = bob })}, authorPolicy,
			"changes only together with the flow (source, destination, egress, schedule); bob may not change it alone"},
		"an admin removes the author without changing the flow": {attempt{bob, annsIntegration("erased",
			func(in *twv1.Integration) { delete(in.Annotations, twv1.FlowAuthorAnnotation) })}, authorPolicy,
			"bob may not change it alone"},
	}
}

func legitimate() map[string]attempt {
	return map[string]attempt{
		"an approver approves in her own name": {alice, func(c client.Client, _ string) error {
			return c.Create(ctx, approval("legit-alice", alice))
		}},
		"an approver approves through his group": {dave, func(c client.Client, _ string) error {
			return c.Create(ctx, approval("legit-dave", dave, approverGroup))
		}},
		"an admin creates an Integration he authored": {bob, func(c client.Client, _ string) error {
			return c.Create(ctx, sampleIntegration("legit-bob", bob))
		}},
		"an admin creates an Integration without recording the author": {bob, func(c client.Client, _ string) error {
			return c.Create(ctx, sampleIntegration("legit-anonymous", ""))
		}},
		"an admin changes the flow and records himself": {bob, annsIntegration("legit-takeover", func(in *twv1.Integration) {
			moreEgress(in)
			in.Annotations[twv1.FlowAuthorAnnotation] = bob
		})},
		"an admin changes what is not the flow": {bob, annsIntegration("legit-resources", func(in *twv1.Integration) {
			in.Spec.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{"memory": resource.MustParse("300Mi")}}
			in.Labels = map[string]string{"team": "billing"}
		})},
	}
}

// The approver and the flow's author are the identities the API server authenticated: every
// forgery gets through without the policies of config/admission/integration_approvals.yaml and is
// denied with them, while approvers and authors keep working.
func TestApproverAndAuthorAreWhoTheAPIServerAuthenticated(t *testing.T) {
	setupTenant(t)
	t.Run("without the policies every forgery gets through", func(t *testing.T) {
		for name, a := range attacks() {
			t.Run(name, func(t *testing.T) {
				if err := a.do(clients[a.as], "-unguarded"); err != nil {
					t.Fatalf("the forgery fails without the policies, so it proves nothing: %v", err)
				}
			})
		}
	})
	installPolicies(t)
	t.Run("with the policies every forgery is denied", func(t *testing.T) {
		for name, a := range attacks() {
			t.Run(name, func(t *testing.T) {
				err := a.do(clients[a.as], "-guarded")
				if err == nil {
					t.Fatal("allowed")
				}
				if !strings.Contains(err.Error(), "ValidatingAdmissionPolicy '"+a.policy+"'") || !strings.Contains(err.Error(), a.message) {
					t.Fatalf("want a denial by %s saying %q, got: %v", a.policy, a.message, err)
				}
			})
		}
	})
	t.Run("with the policies approvers and authors still work", func(t *testing.T) {
		for name, a := range legitimate() {
			t.Run(name, func(t *testing.T) {
				if err := a.do(clients[a.as], ""); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
}

// installPolicies creates the approval policies and waits until the API server enforces both.
func installPolicies(t *testing.T) {
	t.Helper()
	objs, err := manifests("config/admission/integration_approvals.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatalf("creating %s: %v", o.GetName(), err)
		}
	}
	probes := map[string]func() error{
		approvalsPolicy: func() error { return clients[alice].Create(ctx, approval("probe", bob), client.DryRunAll) },
		authorPolicy:    func() error { return clients[ann].Create(ctx, sampleIntegration("probe", bob), client.DryRunAll) },
	}
	for policy, probe := range probes {
		testenv.Eventually(t, timeout, func() error {
			if err := probe(); err == nil || !strings.Contains(err.Error(), policy) {
				return fmt.Errorf("policy %s is not enforced yet (probe: %v)", policy, err)
			}
			return nil
		})
	}
}
