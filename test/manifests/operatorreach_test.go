package manifests

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/predicates/rules"
)

const reachPolicy = "tenantwire-operator-reach"

// writeOperations are the admission operations an RBAC verb's requests reach admission as.
var writeOperations = map[string]admissionregistrationv1.OperationType{
	"create": admissionregistrationv1.Create, "update": admissionregistrationv1.Update, "patch": admissionregistrationv1.Update,
	"delete": admissionregistrationv1.Delete, "deletecollection": admissionregistrationv1.Delete,
}

// The reach policy must see every write the manager's ClusterRoles allow (else a compromised
// manager writes there unconfined) and nothing else: a write they do not allow never reaches
// admission, and every write a policy matches costs the API server a conversion for CEL before
// the matchConditions look at the user. Its Role in tenantwire-system needs no policy: RBAC keeps
// it to that namespace.
func TestOperatorReachMatchesTheManagersWrites(t *testing.T) {
	objs := decodeAll(t, kustomizeBuild(t, "config/default"))
	var rules []rbacv1.PolicyRule
	for key, role := range rbacOf(t, objs).boundTo(kustomizeNamespace, managerServiceAccount) {
		if strings.HasPrefix(key, "ClusterRole/") {
			rules = append(rules, role.Rules...)
		}
	}
	if len(rules) == 0 {
		t.Fatalf("no ClusterRole rules bound to %s", managerServiceAccount)
	}
	var policy *admissionregistrationv1.ValidatingAdmissionPolicy
	for _, o := range objs {
		if o.GetKind() == "ValidatingAdmissionPolicy" && o.GetName() == reachPolicy {
			policy = &admissionregistrationv1.ValidatingAdmissionPolicy{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, policy); err != nil {
				t.Fatal(err)
			}
		}
	}
	if policy == nil || policy.Spec.MatchConstraints == nil {
		t.Fatalf("config/default ships no %s with matchConstraints", reachPolicy)
	}
	for _, v := range reachViolations(rules, policy.Spec.MatchConstraints.ResourceRules) {
		t.Error(v)
	}
}

// reachViolations compares what RBAC rules let the manager write with what the policy's resource
// rules match.
func reachViolations(rbac []rbacv1.PolicyRule, match []admissionregistrationv1.NamedRuleWithOperations) []string {
	var violations []string
	written := map[string]bool{}
	for _, r := range rbac {
		for _, group := range r.APIGroups {
			for _, resource := range r.Resources {
				for _, verb := range r.Verbs {
					op, write := writeOperations[verb]
					if !write {
						continue
					}
					written[group+"/"+resource] = true
					if !matches(match, group, resource, op) {
						violations = append(violations, fmt.Sprintf("RBAC lets the manager %s %s (group %q); %s does not match %s of it",
							verb, resource, group, reachPolicy, op))
					}
				}
			}
		}
	}
	for _, m := range match {
		for _, group := range m.APIGroups {
			for _, resource := range m.Resources {
				switch {
				case strings.Contains(group+resource, "*"):
					violations = append(violations, fmt.Sprintf("%s matches %q in group %q: every writer of those pays for its CEL", reachPolicy, resource, group))
				case !written[group+"/"+resource]:
					violations = append(violations, fmt.Sprintf("%s matches %s (group %q), which the manager's ClusterRoles do not let it write", reachPolicy, resource, group))
				}
			}
		}
	}
	return violations
}

// matches asks the API server's own rule matcher whether a request for the resource (and
// subresource) is matched by the rules, wildcards included.
func matches(match []admissionregistrationv1.NamedRuleWithOperations, group, resource string, op admissionregistrationv1.OperationType) bool {
	main, sub, _ := strings.Cut(resource, "/")
	attrs := admission.NewAttributesRecord(nil, nil, schema.GroupVersionKind{}, "", "",
		schema.GroupVersionResource{Group: group, Version: "v1", Resource: main}, sub, admission.Operation(op), nil, false, nil)
	for _, r := range match {
		if m := (rules.Matcher{Rule: r.RuleWithOperations, Attr: attrs}); m.Matches() {
			return true
		}
	}
	return false
}

func TestOperatorReachChecksCatchBadPolicies(t *testing.T) {
	rbac := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "create", "patch", "delete"}},
		{APIGroups: []string{"tenantwire.io"}, Resources: []string{"tenants/status"}, Verbs: []string{"patch"}},
	}
	rule := func(group string, ops []admissionregistrationv1.OperationType, resources ...string) admissionregistrationv1.NamedRuleWithOperations {
		return admissionregistrationv1.NamedRuleWithOperations{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
			Operations: ops, Rule: admissionregistrationv1.Rule{APIGroups: []string{group}, APIVersions: []string{"*"}, Resources: resources}}}
	}
	cud := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update, admissionregistrationv1.Delete}
	update := []admissionregistrationv1.OperationType{admissionregistrationv1.Update}
	exact := []admissionregistrationv1.NamedRuleWithOperations{rule("", cud, "secrets"), rule("tenantwire.io", update, "tenants/status")}
	tests := map[string]struct {
		match []admissionregistrationv1.NamedRuleWithOperations
		want  []string
	}{
		"exactly the writes": {match: exact},
		"every resource": {match: []admissionregistrationv1.NamedRuleWithOperations{rule("*", cud, "*/*")},
			want: []string{`matches "*/*" in group "*"`}},
		"Secrets left out": {match: exact[1:], want: []string{"create secrets", "patch secrets", "delete secrets"}},
		"the status subresource left out": {match: []admissionregistrationv1.NamedRuleWithOperations{exact[0], rule("tenantwire.io", update, "tenants")},
			want: []string{"patch tenants/status", "matches tenants (group \"tenantwire.io\")"}},
		"deletes left out": {match: []admissionregistrationv1.NamedRuleWithOperations{rule("", update[:1], "secrets"), exact[1]},
			want: []string{"create secrets", "delete secrets"}},
		"pods, which the manager cannot write": {match: append(slices.Clone(exact), rule("", cud, "pods", "pods/status")),
			want: []string{"matches pods (group \"\")", "matches pods/status (group \"\")"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := reachViolations(rbac, tc.match)
			if len(got) != len(tc.want) {
				t.Fatalf("violations %q, want %d: %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("violation %d = %q, want it to say %q", i, got[i], w)
				}
			}
		})
	}
}
