// Package audit holds the Kubernetes audit policy tenantwire is tested with; this test evaluates
// it with the API server's own policy evaluator.
package auditpolicy

import (
	"os"
	"slices"
	"testing"

	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/apiserver/pkg/audit"
	"k8s.io/apiserver/pkg/audit/policy"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"sigs.k8s.io/yaml"
)

const policyFile = "policy.yaml"

var (
	operator   = &user.DefaultInfo{Name: "system:serviceaccount:tenantwire-system:tenantwire-manager", Groups: []string{"system:serviceaccounts", "system:authenticated"}}
	eso        = &user.DefaultInfo{Name: "system:serviceaccount:external-secrets:external-secrets", Groups: []string{"system:serviceaccounts", "system:authenticated"}}
	alice      = &user.DefaultInfo{Name: "alice", Groups: []string{"practice-admins", "system:authenticated"}}
	node       = &user.DefaultInfo{Name: "system:node:worker-1", Groups: []string{"system:nodes", "system:authenticated"}}
	controller = &user.DefaultInfo{Name: "system:kube-controller-manager", Groups: []string{"system:authenticated"}}
)

// evaluator loads the policy as kube-apiserver's --audit-policy-file does, after a strict decode
// (the API server falls back to a lenient one and only warns about a misspelt field).
func evaluator(t *testing.T) audit.PolicyRuleEvaluator {
	t.Helper()
	b, err := os.ReadFile(policyFile)
	if err != nil {
		t.Fatal(err)
	}
	var strict auditv1.Policy
	if err := yaml.UnmarshalStrict(b, &strict); err != nil {
		t.Fatalf("%s does not decode strictly: %v", policyFile, err)
	}
	p, err := policy.LoadPolicyFromBytes(b)
	if err != nil {
		t.Fatalf("kube-apiserver would refuse %s: %v", policyFile, err)
	}
	return policy.NewPolicyRuleEvaluator(p)
}

// resource is a request for an object in a namespace (group "" is the core group).
func resource(u user.Info, verb, namespace, group, res, sub, name string) authorizer.AttributesRecord {
	return authorizer.AttributesRecord{User: u, Verb: verb, Namespace: namespace, APIGroup: group, APIVersion: "v1",
		Resource: res, Subresource: sub, Name: name, ResourceRequest: true}
}

func nonResource(u user.Info, path string) authorizer.AttributesRecord {
	return authorizer.AttributesRecord{User: u, Verb: "get", Path: path}
}

func TestAuditPolicyLevels(t *testing.T) {
	eval := evaluator(t)
	const tenantNS = "tenant-acme-family-practice"
	cases := map[string]struct {
		request authorizer.AttributesRecord
		want    auditinternal.Level
	}{
		"Secret get by the operator":                 {resource(operator, "get", tenantNS, "", "secrets", "", "cerbo-to-quickbooks-source-credentials"), auditinternal.LevelMetadata},
		"Secret create by ESO":                       {resource(eso, "create", tenantNS, "", "secrets", "", "cerbo-to-quickbooks-source-credentials"), auditinternal.LevelMetadata},
		"Secret update by a user":                    {resource(alice, "update", tenantNS, "", "secrets", "", "tenantwire-keyring"), auditinternal.LevelMetadata},
		"Secret list by a node":                      {resource(node, "list", tenantNS, "", "secrets", "", ""), auditinternal.LevelMetadata},
		"Secret watch by the controller-manager":     {resource(controller, "watch", "", "", "secrets", "", ""), auditinternal.LevelMetadata},
		"ConfigMap get by a node":                    {resource(node, "get", tenantNS, "", "configmaps", "", "cerbo-to-quickbooks-sync"), auditinternal.LevelMetadata},
		"ConfigMap patch by the operator":            {resource(operator, "patch", tenantNS, "", "configmaps", "", "cerbo-to-quickbooks-sync"), auditinternal.LevelMetadata},
		"TokenRequest":                               {resource(alice, "create", tenantNS, "", "serviceaccounts", "token", "tenantwire-sync"), auditinternal.LevelMetadata},
		"TokenReview":                                {resource(operator, "create", "", "authentication.k8s.io", "tokenreviews", "", ""), auditinternal.LevelMetadata},
		"Integration update by a user":               {resource(alice, "update", tenantNS, "tenantwire.io", "integrations", "", "cerbo-to-quickbooks"), auditinternal.LevelRequestResponse},
		"Integration patch by a user":                {resource(alice, "patch", tenantNS, "tenantwire.io", "integrations", "", "cerbo-to-quickbooks"), auditinternal.LevelRequestResponse},
		"Integration create by a user":               {resource(alice, "create", tenantNS, "tenantwire.io", "integrations", "", "cerbo-to-quickbooks"), auditinternal.LevelRequestResponse},
		"Integration delete by a user":               {resource(alice, "delete", tenantNS, "tenantwire.io", "integrations", "", "cerbo-to-quickbooks"), auditinternal.LevelRequestResponse},
		"Integration status by the operator":         {resource(operator, "patch", tenantNS, "tenantwire.io", "integrations", "status", "cerbo-to-quickbooks"), auditinternal.LevelRequestResponse},
		"Tenant create":                              {resource(alice, "create", "", "tenantwire.io", "tenants", "", "acme-family-practice"), auditinternal.LevelRequestResponse},
		"Tenants deleted all at once":                {resource(alice, "deletecollection", "", "tenantwire.io", "tenants", "", ""), auditinternal.LevelRequestResponse},
		"KeyPolicy annotated to rotate":              {resource(alice, "patch", "", "tenantwire.io", "keypolicies", "", "standard"), auditinternal.LevelRequestResponse},
		"IntegrationApproval create by an approver":  {resource(alice, "create", tenantNS, "tenantwire.io", "integrationapprovals", "", "cerbo-to-quickbooks"), auditinternal.LevelRequestResponse},
		"Integration get: who read it, not the body": {resource(alice, "get", tenantNS, "tenantwire.io", "integrations", "", "cerbo-to-quickbooks"), auditinternal.LevelMetadata},
		"Integrations watched by the operator":       {resource(operator, "watch", "", "tenantwire.io", "integrations", "", ""), auditinternal.LevelMetadata},
		"events create":                              {resource(operator, "create", tenantNS, "", "events", "", "cerbo-to-quickbooks.1"), auditinternal.LevelNone},
		"events.k8s.io events create":                {resource(operator, "create", tenantNS, "events.k8s.io", "events", "", "cerbo-to-quickbooks.1"), auditinternal.LevelNone},
		"leader election lease update":               {resource(operator, "update", "tenantwire-system", "coordination.k8s.io", "leases", "", "tenantwire.io"), auditinternal.LevelNone},
		"readyz":                                     {nonResource(alice, "/readyz"), auditinternal.LevelNone},
		"healthz of a component":                     {nonResource(controller, "/healthz/etcd"), auditinternal.LevelNone},
		"discovery":                                  {nonResource(operator, "/apis/tenantwire.io/v1alpha1"), auditinternal.LevelNone},
		"pod list by a node":                         {resource(node, "list", "", "", "pods", "", ""), auditinternal.LevelNone},
		"endpoints watch by the controller-manager":  {resource(controller, "watch", "", "discovery.k8s.io", "endpointslices", "", ""), auditinternal.LevelNone},
		"Deployment update by the operator":          {resource(operator, "patch", tenantNS, "apps", "deployments", "", "cerbo-to-quickbooks-sync"), auditinternal.LevelMetadata},
		"RoleBinding create by a user":               {resource(alice, "create", tenantNS, "rbac.authorization.k8s.io", "rolebindings", "", "x"), auditinternal.LevelMetadata},
		"pod exec by a user":                         {resource(alice, "create", tenantNS, "", "pods", "exec", "cerbo-to-quickbooks-sync-0"), auditinternal.LevelMetadata},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := eval.EvaluatePolicyRule(tc.request)
			if got.Level != tc.want {
				t.Errorf("level %q, want %q", got.Level, tc.want)
			}
		})
	}
}

// TestAuditPolicyNeverLogsCredentialBodies plays everyone who can touch a credential, with every
// verb: no rule after the first may catch a Secret or a token and log its body.
func TestAuditPolicyNeverLogsCredentialBodies(t *testing.T) {
	eval := evaluator(t)
	verbs := []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
	for _, u := range []user.Info{operator, eso, alice, node, controller, &user.DefaultInfo{Name: "system:apiserver"}, &user.DefaultInfo{Name: "system:anonymous"}} {
		for _, verb := range verbs {
			for _, ns := range []string{"tenant-acme-family-practice", "tenantwire-system", "kube-system", ""} {
				for _, r := range []authorizer.AttributesRecord{
					resource(u, verb, ns, "", "secrets", "", "tenantwire-keyring"),
					resource(u, verb, ns, "", "configmaps", "", "cerbo-to-quickbooks-sync"),
					resource(u, verb, ns, "", "serviceaccounts", "token", "tenantwire-sync"),
					resource(u, verb, "", "authentication.k8s.io", "tokenreviews", "", ""),
				} {
					if got := eval.EvaluatePolicyRule(r).Level; got.GreaterOrEqual(auditinternal.LevelRequest) {
						t.Errorf("%s %s %s/%s in %q by %s is logged at %s, want Metadata at most", verb, r.Resource, r.Subresource, r.Name, ns, u.GetName(), got)
					}
				}
			}
		}
	}
}

// TestAuditPolicyKeepsOneLeanEventPerRequest: the stage before the answer would log a request a
// second time without the response code, and managedFields would repeat every earlier writer.
func TestAuditPolicyKeepsOneLeanEventPerRequest(t *testing.T) {
	got := evaluator(t).EvaluatePolicyRule(resource(alice, "update", "tenant-a", "tenantwire.io", "integrations", "", "x"))
	if !slices.Contains(got.OmitStages, auditinternal.StageRequestReceived) {
		t.Errorf("omitted stages %v, want RequestReceived among them", got.OmitStages)
	}
	if !got.OmitManagedFields {
		t.Error("managedFields are kept in the bodies, want them omitted")
	}
}
