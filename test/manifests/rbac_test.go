package manifests

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

const (
	managerServiceAccount = "tenantwire-manager"
	managerClusterRole    = "tenantwire-manager"
)

// tenantRoles are the ClusterRoles the operator binds in tenant namespaces; its only "bind" grant
// names exactly these.
var tenantRoles = []string{"tenantwire-tenant-admin", "tenantwire-tenant-approver", "tenantwire-tenant-viewer"}

// rbacObjects is the RBAC of one install, by "Kind/namespace/name".
type rbacObjects map[string]rbacObject

// rbacObject holds the parts of an RBAC object that grant something; labels do not.
type rbacObject struct {
	Rules    []rbacv1.PolicyRule `json:"rules,omitempty"`
	RoleRef  *rbacv1.RoleRef     `json:"roleRef,omitempty"`
	Subjects []rbacv1.Subject    `json:"subjects,omitempty"`
	// AggregationRule would let other ClusterRoles add rules to ours.
	AggregationRule *rbacv1.AggregationRule `json:"aggregationRule,omitempty"`
}

// rbacOf is the RBAC an install creates. Helm hooks are left out: `helm install` does not create
// them, and TestChartHelmTestChecksTheAPI holds the test hook to a ServiceAccount bound to nothing.
func rbacOf(t testing.TB, objs []*unstructured.Unstructured) rbacObjects {
	t.Helper()
	out := rbacObjects{}
	for _, o := range objs {
		if _, hook := o.GetAnnotations()[helmHookAnnotation]; hook {
			continue
		}
		switch o.GetKind() {
		case "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding":
		default:
			continue
		}
		var r rbacObject
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r); err != nil {
			t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
		}
		out[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = r
	}
	return out
}

func (r rbacObjects) clusterRole(name string) (rbacObject, bool) {
	o, ok := r["ClusterRole//"+name]
	return o, ok
}

// boundTo returns the roles bound to a ServiceAccount, by "Kind/namespace/name".
func (r rbacObjects) boundTo(namespace, serviceAccount string) map[string]rbacObject {
	roles := map[string]rbacObject{}
	for key, o := range r {
		if o.RoleRef == nil {
			continue
		}
		bindingNS := strings.Split(key, "/")[1]
		for _, s := range o.Subjects {
			if s.Kind != rbacv1.ServiceAccountKind || s.Name != serviceAccount || s.Namespace != namespace {
				continue
			}
			roleKey := o.RoleRef.Kind + "//" + o.RoleRef.Name
			if o.RoleRef.Kind == "Role" {
				roleKey = "Role/" + bindingNS + "/" + o.RoleRef.Name
			}
			roles[roleKey] = r[roleKey]
		}
	}
	return roles
}

func toYAML(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// renders of the install whose RBAC the tests inspect. The chart is rendered into the kustomize
// namespace, so that chart and kustomize must agree to the letter.
func installs(t *testing.T) map[string]rbacObjects {
	t.Helper()
	return map[string]rbacObjects{
		"kustomize config/default": rbacOf(t, decodeAll(t, kustomizeBuild(t, "config/default"))),
		"chart, default values":    rbacOf(t, decodeAll(t, helmTemplate(t, kustomizeNamespace))),
		"chart, options values":    rbacOf(t, decodeAll(t, helmTemplate(t, kustomizeNamespace, "--values", optionsValues))),
	}
}

// The chart's RBAC is generated from config/rbac (hack/sync-chart-rbac.sh); this catches a chart
// that was not regenerated, or a generator that changes what is granted.
func TestRBACIdenticalInChartAndKustomize(t *testing.T) {
	all := installs(t)
	want := all["kustomize config/default"]
	if _, ok := want.clusterRole(managerClusterRole); !ok {
		t.Fatalf("kustomize config/default has no ClusterRole %s", managerClusterRole)
	}
	for name, got := range all {
		if name == "kustomize config/default" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			gotRole, _ := got.clusterRole(managerClusterRole)
			wantRole, _ := want.clusterRole(managerClusterRole)
			if !reflect.DeepEqual(gotRole.Rules, wantRole.Rules) {
				t.Errorf("ClusterRole %s rules differ (run make manifests):\nchart:\n%s\nkustomize:\n%s", managerClusterRole, toYAML(gotRole.Rules), toYAML(wantRole.Rules))
			}
			for key, w := range want {
				g, ok := got[key]
				if !ok {
					t.Errorf("%s is in kustomize but not in the chart", key)
					continue
				}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("%s differs:\nchart:\n%s\nkustomize:\n%s", key, toYAML(g), toYAML(w))
				}
			}
			for key := range got {
				if _, ok := want[key]; !ok {
					t.Errorf("%s is in the chart but not in kustomize", key)
				}
			}
		})
	}
}

func TestOperatorRBACLeastPrivilege(t *testing.T) {
	for name, install := range installs(t) {
		t.Run(name, func(t *testing.T) {
			roles := install.boundTo(kustomizeNamespace, managerServiceAccount)
			if _, ok := roles["ClusterRole//"+managerClusterRole]; !ok {
				t.Fatalf("ClusterRole %s is not bound to ServiceAccount %s/%s", managerClusterRole, kustomizeNamespace, managerServiceAccount)
			}
			for key, role := range roles {
				if role.Rules == nil && role.AggregationRule == nil {
					t.Errorf("%s is bound to the operator but not shipped", key)
				}
				if role.AggregationRule != nil {
					t.Errorf("%s aggregates other ClusterRoles: its grants are not reviewable here", key)
				}
				for _, v := range leastPrivilegeViolations(role.Rules) {
					t.Errorf("%s: %s", key, v)
				}
			}
		})
	}
}

// Tenant admins, viewers and approvers must never read credentials: no tenant role may reach Secrets.
func TestTenantRolesGrantNoSecrets(t *testing.T) {
	for name, install := range installs(t) {
		t.Run(name, func(t *testing.T) {
			for _, roleName := range tenantRoles {
				role, ok := install.clusterRole(roleName)
				if !ok {
					t.Errorf("ClusterRole %s is missing", roleName)
					continue
				}
				for _, v := range append(leastPrivilegeViolations(role.Rules), secretsViolations(role.Rules)...) {
					t.Errorf("ClusterRole %s: %s", roleName, v)
				}
			}
		})
	}
}

// secretVerbs is all the operator may do with Secrets: read the ones ESO writes (get, list,
// watch), and create, patch and delete the keyring and the rotated-token Secrets. A rotated-token
// Secret is named for its Integration, so no rule can name it in advance, and the API server lets
// the operator create the Role that grants a token writer patch on it only if the operator holds
// patch on it itself. The admission policy tenantwire-operator-reach confines these writes to the
// keyring and to empty *-rotated-token Secrets in tenant namespaces (test/admission). update,
// which no controller uses, and every other verb stay out.
var secretVerbs = []string{"get", "list", "watch", "create", "patch", "delete"}

// leastPrivilegeViolations lists what no role of the operator may grant: wildcards, escalate,
// impersonate, bind beyond the two tenant roles, and writes on Secrets.
func leastPrivilegeViolations(rules []rbacv1.PolicyRule) []string {
	var violations []string
	for i, r := range rules {
		where := fmt.Sprintf("rule %d (apiGroups %q, resources %q, verbs %q)", i, r.APIGroups, r.Resources, r.Verbs)
		for field, values := range map[string][]string{
			"apiGroups": r.APIGroups, "resources": r.Resources, "verbs": r.Verbs,
			"resourceNames": r.ResourceNames, "nonResourceURLs": r.NonResourceURLs,
		} {
			for _, v := range values {
				if strings.Contains(v, "*") {
					violations = append(violations, fmt.Sprintf("%s: wildcard %q in %s", where, v, field))
				}
			}
		}
		for _, verb := range r.Verbs {
			switch strings.ToLower(verb) {
			case "escalate", "impersonate":
				violations = append(violations, fmt.Sprintf("%s: grants %s", where, verb))
			case "bind":
				if !isTenantRoleBind(r) {
					violations = append(violations, fmt.Sprintf("%s: bind is allowed only alone, on clusterroles %q", where, tenantRoles))
				}
			}
		}
		if reachesSecrets(r) {
			for _, verb := range r.Verbs {
				if !slices.Contains(secretVerbs, verb) {
					violations = append(violations, fmt.Sprintf("%s: %s on secrets (only %q allowed)", where, verb, secretVerbs))
				}
			}
		}
	}
	return violations
}

// isTenantRoleBind is the one bind grant the Tenant controller needs: exactly the tenant
// ClusterRoles, in a rule of its own so the names cannot scope anything else.
func isTenantRoleBind(r rbacv1.PolicyRule) bool {
	names := slices.Sorted(slices.Values(r.ResourceNames))
	return slices.Equal(r.APIGroups, []string{rbacv1.GroupName}) &&
		slices.Equal(r.Resources, []string{"clusterroles"}) &&
		slices.Equal(r.Verbs, []string{"bind"}) &&
		slices.Equal(names, tenantRoles)
}

// reachesSecrets reports whether a rule applies to core Secrets or their subresources.
func reachesSecrets(r rbacv1.PolicyRule) bool {
	if !slices.Contains(r.APIGroups, "") && !slices.Contains(r.APIGroups, "*") {
		return false
	}
	for _, res := range r.Resources {
		if res == "*" || res == "secrets" || strings.HasPrefix(res, "secrets/") {
			return true
		}
	}
	return false
}

// secretsViolations lists rules that reach Secrets at all.
func secretsViolations(rules []rbacv1.PolicyRule) []string {
	var violations []string
	for i, r := range rules {
		if reachesSecrets(r) {
			violations = append(violations, fmt.Sprintf("rule %d (resources %q, verbs %q) reaches secrets", i, r.Resources, r.Verbs))
		}
	}
	return violations
}

// The checks above must fail on the grants they exist to stop; a check that cannot fail is a defect.
func TestLeastPrivilegeChecksCatchBadGrants(t *testing.T) {
	core := func(resources []string, verbs ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{""}, Resources: resources, Verbs: verbs}
	}
	tenantBind := rbacv1.PolicyRule{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles"}, Verbs: []string{"bind"}, ResourceNames: []string{"tenantwire-tenant-viewer", "tenantwire-tenant-approver", "tenantwire-tenant-admin"}}
	withNames := func(names ...string) rbacv1.PolicyRule {
		r := tenantBind
		r.ResourceNames = names
		return r
	}
	tests := map[string]struct {
		rule            rbacv1.PolicyRule
		wantViolation   string // empty: none
		wantSecretsRule bool
	}{
		"read secrets":             {rule: core([]string{"secrets"}, "get", "list", "watch"), wantSecretsRule: true},
		"write configmaps":         {rule: core([]string{"configmaps"}, "create", "update", "patch", "delete")},
		"the tenant role bind":     {rule: tenantBind},
		"wildcard verb":            {rule: core([]string{"configmaps"}, "*"), wantViolation: `wildcard "*" in verbs`},
		"wildcard resource":        {rule: core([]string{"*"}, "get"), wantViolation: `wildcard "*" in resources`, wantSecretsRule: true},
		"wildcard subresource":     {rule: core([]string{"pods/*"}, "get"), wantViolation: `wildcard "pods/*" in resources`},
		"wildcard api group":       {rule: rbacv1.PolicyRule{APIGroups: []string{"*"}, Resources: []string{"deployments"}, Verbs: []string{"get"}}, wantViolation: `wildcard "*" in apiGroups`},
		"update secrets":           {rule: core([]string{"secrets"}, "get", "update"), wantViolation: "update on secrets", wantSecretsRule: true},
		"deletecollection secrets": {rule: core([]string{"secrets"}, "deletecollection"), wantViolation: "deletecollection on secrets", wantSecretsRule: true},
		"keyring writes by name": {
			rule:            rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create", "patch", "delete"}, ResourceNames: []string{"tenantwire-keyring"}},
			wantSecretsRule: true,
		},
		"keyring update by name": {
			rule:          rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"update"}, ResourceNames: []string{"tenantwire-keyring"}},
			wantViolation: "update on secrets", wantSecretsRule: true,
		},
		"rotated-token writes": {rule: core([]string{"secrets"}, "create", "patch", "delete"), wantSecretsRule: true},
		"update another secret by name": {
			rule:          rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"update"}, ResourceNames: []string{"tenantwire-keyring", "db-password"}},
			wantViolation: "update on secrets", wantSecretsRule: true,
		},
		"update secrets among other kinds": {rule: core([]string{"configmaps", "secrets"}, "get", "update"), wantViolation: "update on secrets", wantSecretsRule: true},
		"update a secrets subresource":     {rule: core([]string{"secrets/status"}, "update"), wantViolation: "update on secrets", wantSecretsRule: true},
		"escalate":                         {rule: rbacv1.PolicyRule{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles"}, Verbs: []string{"escalate"}}, wantViolation: "grants escalate"},
		"impersonate":                      {rule: core([]string{"serviceaccounts"}, "impersonate"), wantViolation: "grants impersonate"},
		"bind any clusterrole":             {rule: withNames(), wantViolation: "bind is allowed only"},
		"bind cluster-admin too":           {rule: withNames("tenantwire-tenant-admin", "tenantwire-tenant-approver", "tenantwire-tenant-viewer", "cluster-admin"), wantViolation: "bind is allowed only"},
		"bind one tenant role":             {rule: withNames("tenantwire-tenant-admin"), wantViolation: "bind is allowed only"},
		"bind roles": {
			rule:          rbacv1.PolicyRule{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles"}, Verbs: []string{"bind"}, ResourceNames: tenantRoles},
			wantViolation: "bind is allowed only",
		},
		"bind with another verb": {
			rule:          rbacv1.PolicyRule{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles"}, Verbs: []string{"bind", "get"}, ResourceNames: tenantRoles},
			wantViolation: "bind is allowed only",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := strings.Join(leastPrivilegeViolations([]rbacv1.PolicyRule{tc.rule}), "\n")
			switch {
			case tc.wantViolation == "" && got != "":
				t.Errorf("unexpected violations:\n%s", got)
			case tc.wantViolation != "" && !strings.Contains(got, tc.wantViolation):
				t.Errorf("violations %q do not contain %q", got, tc.wantViolation)
			}
			if secrets := len(secretsViolations([]rbacv1.PolicyRule{tc.rule})) > 0; secrets != tc.wantSecretsRule {
				t.Errorf("reaches secrets = %v, want %v", secrets, tc.wantSecretsRule)
			}
		})
	}
}
