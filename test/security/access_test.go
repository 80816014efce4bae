package security

import (
	"fmt"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/tenantwire/tenantwire/internal/keyring"
)

// subject is someone who asks the API server for something.
type subject struct {
	user   string
	groups []string
}

func serviceAccount(ns, name string) subject {
	return subject{user: "system:serviceaccount:" + ns + ":" + name, groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns}}
}

// The subjects of the access table, all seen from tenant alpha.
var (
	tenantAdmin  = subject{user: "alice@alpha.example", groups: []string{"oidc:alpha-admins"}}
	tenantViewer = subject{user: "victor@alpha.example", groups: []string{"oidc:alpha-staff"}}
	// editUser holds Kubernetes' built-in "edit" role in tenant-alpha, granted by the platform team
	// (nothing in tenantwire grants it).
	editUser    = subject{user: "eve@alpha.example"}
	syncSA      = serviceAccount(nsA, syncServiceAccount(records))
	otherSyncSA = serviceAccount(nsB, syncServiceAccount(records))
	managerSA   = serviceAccount(managerNamespace, managerServiceAccount)

	subjects     = [...]subject{tenantAdmin, tenantViewer, editUser, syncSA, otherSyncSA, managerSA}
	subjectNames = [...]string{"tenant admin", "tenant viewer", "edit user", "alpha's sync SA", "bravo's sync SA", "manager"}
)

// verdicts are the expected answers for subjects, in that order.
type verdicts [len(subjects)]bool

const allow, deny = true, false

// request is one row of the access table.
type request struct {
	what  string
	attrs authorizationv1.ResourceAttributes
	want  verdicts
}

func attrs(verb, group, resource, subresource, namespace, name string) authorizationv1.ResourceAttributes {
	return authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: resource, Subresource: subresource, Namespace: namespace, Name: name}
}

const rbacGroup = rbacv1.GroupName

var alphaCredential = credentialSecret(records, "source")

// accessTable is who may do what today. Where "edit" is allowed something dangerous, that is the
// truth of Kubernetes' built-in role, asserted so that it is visible: edit reads every Secret of
// the namespace (credentials and keyring included), mints tokens for and impersonates its
// ServiceAccounts, and runs pods that mount any Secret. Admission policies can stop edit users
// from creating such objects; no admission control ever sees a read. Grant edit in a tenant
// namespace only to someone trusted with the practice's credentials and keys (docs/security.md).
var accessTable = []request{
	// verdicts{tenant admin, tenant viewer, edit user, alpha's sync SA, bravo's sync SA, manager}
	{"get the tenant-alpha keyring", attrs("get", "", "secrets", "", nsA, keyring.SecretName), verdicts{deny, deny, allow, allow, deny, allow}},
	{"get the tenant-bravo keyring", attrs("get", "", "secrets", "", nsB, keyring.SecretName), verdicts{deny, deny, deny, deny, allow, allow}},
	{"get a credential Secret", attrs("get", "", "secrets", "", nsA, alphaCredential), verdicts{deny, deny, allow, allow, deny, allow}},
	{"list Secrets", attrs("list", "", "secrets", "", nsA, ""), verdicts{deny, deny, allow, deny, deny, allow}},
	// RBAC lets the manager create, patch and delete Secrets of any name: a rotated-token Secret
	// is named for its Integration, and granting a token writer patch on it takes holding it. The
	// admission policy tenantwire-operator-reach keeps those writes to the keyring and to empty
	// *-rotated-token Secrets (test/admission: "operator: Secret of another name", "operator:
	// credential Secret overwritten").
	{"create a Secret", attrs("create", "", "secrets", "", nsA, ""), verdicts{deny, deny, allow, deny, deny, allow}},
	{"update a credential Secret", attrs("update", "", "secrets", "", nsA, alphaCredential), verdicts{deny, deny, allow, deny, deny, deny}},
	{"delete a credential Secret", attrs("delete", "", "secrets", "", nsA, alphaCredential), verdicts{deny, deny, allow, deny, deny, allow}},
	// The manager creates the keyring by server-side apply, a request that carries the name.
	{"create the keyring by name", attrs("create", "", "secrets", "", nsA, keyring.SecretName), verdicts{deny, deny, allow, deny, deny, allow}},
	{"patch the keyring", attrs("patch", "", "secrets", "", nsA, keyring.SecretName), verdicts{deny, deny, allow, deny, deny, allow}},
	{"create pods", attrs("create", "", "pods", "", nsA, ""), verdicts{deny, deny, allow, deny, deny, deny}},
	{"exec into a pod", attrs("create", "", "pods", "exec", nsA, "records-sync-0"), verdicts{deny, deny, allow, deny, deny, deny}},
	// The manager lists a running Integration's pods to read the cycle summary from one's IP.
	{"list pods", attrs("list", "", "pods", "", nsA, ""), verdicts{allow, allow, allow, deny, deny, allow}},
	{"read pod logs", attrs("get", "", "pods", "log", nsA, "records-sync-0"), verdicts{allow, deny, allow, deny, deny, deny}},
	{"create Deployments", attrs("create", "apps", "deployments", "", nsA, ""), verdicts{deny, deny, allow, deny, deny, allow}},
	{"mint a token for the sync ServiceAccount", attrs("create", "", "serviceaccounts", "token", nsA, syncServiceAccount(records)), verdicts{deny, deny, allow, deny, deny, deny}},
	{"impersonate the sync ServiceAccount", attrs("impersonate", "", "serviceaccounts", "", nsA, syncServiceAccount(records)), verdicts{deny, deny, allow, deny, deny, deny}},
	{"impersonate a user", attrs("impersonate", "", "users", "", "", "admin@platform.example"), verdicts{deny, deny, deny, deny, deny, deny}},
	// edit and admin write Integrations through tenantwire-edit, as a Tenant's admins do; view reads
	// them through tenantwire-view (config/rbac/aggregated_roles.yaml).
	{"list Integrations", attrs("list", "tenantwire.io", "integrations", "", nsA, ""), verdicts{allow, allow, allow, deny, deny, allow}},
	{"create an Integration", attrs("create", "tenantwire.io", "integrations", "", nsA, ""), verdicts{allow, deny, allow, deny, deny, deny}},
	{"update an Integration", attrs("update", "tenantwire.io", "integrations", "", nsA, records), verdicts{allow, deny, allow, deny, deny, deny}},
	{"delete an Integration", attrs("delete", "tenantwire.io", "integrations", "", nsA, records), verdicts{allow, deny, allow, deny, deny, deny}},
	// Only a Tenant's approvers approve a flow (test/approval); aggregation gives edit none of it.
	{"list IntegrationApprovals", attrs("list", "tenantwire.io", "integrationapprovals", "", nsA, ""), verdicts{allow, allow, allow, deny, deny, allow}},
	{"create an IntegrationApproval", attrs("create", "tenantwire.io", "integrationapprovals", "", nsA, ""), verdicts{deny, deny, deny, deny, deny, deny}},
	{"delete an IntegrationApproval", attrs("delete", "tenantwire.io", "integrationapprovals", "", nsA, records), verdicts{deny, deny, deny, deny, deny, deny}},
	// status.keyring.rewrappedVersion tells the KeyPolicy which key versions it may drop: whoever
	// could write it could have keys still sealing data trimmed.
	{"report a rewrap in an Integration's status", attrs("patch", "tenantwire.io", "integrations", "status", nsA, records), verdicts{deny, deny, deny, deny, deny, allow}},
	{"update a Tenant", attrs("update", "tenantwire.io", "tenants", "", "", tenantA), verdicts{deny, deny, deny, deny, deny, allow}},
	// Tenants and KeyPolicies are cluster-scoped and the platform's: aggregated to no built-in role.
	{"get a Tenant", attrs("get", "tenantwire.io", "tenants", "", "", tenantA), verdicts{deny, deny, deny, deny, deny, allow}},
	{"update a KeyPolicy", attrs("update", "tenantwire.io", "keypolicies", "", "", "default"), verdicts{deny, deny, deny, deny, deny, allow}},
	{"create RoleBindings", attrs("create", rbacGroup, "rolebindings", "", nsA, ""), verdicts{deny, deny, deny, deny, deny, allow}},
	{"change NetworkPolicies", attrs("patch", "networking.k8s.io", "networkpolicies", "", nsA, "tenantwire-default-deny"), verdicts{deny, deny, allow, deny, deny, allow}},
	{"patch the tenant namespace", attrs("patch", "", "namespaces", "", "", nsA), verdicts{deny, deny, deny, deny, deny, allow}},
	{"escalate ClusterRoles", attrs("escalate", rbacGroup, "clusterroles", "", "", ""), verdicts{deny, deny, deny, deny, deny, deny}},
	{"escalate Roles", attrs("escalate", rbacGroup, "roles", "", nsA, ""), verdicts{deny, deny, deny, deny, deny, deny}},
	{"bind cluster-admin", attrs("bind", rbacGroup, "clusterroles", "", "", "cluster-admin"), verdicts{deny, deny, deny, deny, deny, deny}},
	{"bind the tenant admin role", attrs("bind", rbacGroup, "clusterroles", "", "", "tenantwire-tenant-admin"), verdicts{deny, deny, deny, deny, deny, allow}},
}

// TestAccessMatchesTheTableUnderTheAPIServersAuthorizer asks the API server, with a
// SubjectAccessReview per subject and request, who may do what once the operator has set up two
// tenants (and the platform team has granted edit in tenant-alpha).
func TestAccessMatchesTheTableUnderTheAPIServersAuthorizer(t *testing.T) {
	twoTenants(t)
	grantEdit(t)
	for _, r := range accessTable {
		for i, s := range subjects {
			t.Run(r.what+"/"+subjectNames[i], func(t *testing.T) {
				allowed, reason := review(t, s, r.attrs)
				if allowed != r.want[i] {
					t.Errorf("%s: allowed = %v, want %v (%s)", subjectNames[i], allowed, r.want[i], reason)
				}
			})
		}
	}
}

// review asks the API server whether s may do what attrs say.
func review(t *testing.T, s subject, a authorizationv1.ResourceAttributes) (bool, string) {
	t.Helper()
	allowed, reason, err := ask(s, a)
	if err != nil {
		t.Fatal(err)
	}
	return allowed, reason
}

func ask(s subject, a authorizationv1.ResourceAttributes) (bool, string, error) {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: s.user, Groups: append([]string{"system:authenticated"}, s.groups...), ResourceAttributes: &a,
	}}
	err := admin.Create(ctx, sar)
	return sar.Status.Allowed, sar.Status.Reason, err
}

// authorizerAllows is nil once the API server's RBAC authorizer, which reads bindings from its own
// watch cache, allows the request: a binding just written may take a moment to count.
func authorizerAllows(s subject, a authorizationv1.ResourceAttributes) error {
	allowed, reason, err := ask(s, a)
	if err != nil {
		return err
	}
	if !allowed {
		return fmt.Errorf("%s may not %s %s/%s yet (%s)", s.user, a.Verb, a.Resource, a.Name, reason)
	}
	return nil
}
