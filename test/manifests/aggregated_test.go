package manifests

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

const aggregateLabelPrefix = "rbac.authorization.k8s.io/aggregate-to-"

// aggregatedRoles are the ClusterRoles tenantwire adds to Kubernetes' built-in roles, with the
// built-in roles each is aggregated to: exactly these, since a label more hands the rules to one
// more role.
var aggregatedRoles = map[string][]string{
	"tenantwire-view": {"admin", "edit", "view"},
	"tenantwire-edit": {"admin", "edit"},
}

// readVerbs are all tenantwire-view may grant.
var readVerbs = []string{"get", "list", "watch"}

// Whoever holds view, edit or admin in a tenant namespace gets from tenantwire what a tenant admin
// gets on tenantwire's kinds, and no more: no approvals, no status, no Tenants or KeyPolicies, no
// Secrets; view only reads.
func TestAggregatedRolesGrantNoMoreThanATenantAdmin(t *testing.T) {
	renders := map[string][]byte{
		"kustomize config/default": kustomizeBuild(t, "config/default"),
		"chart, default values":    helmTemplate(t, kustomizeNamespace),
	}
	for install, rendered := range renders {
		t.Run(install, func(t *testing.T) {
			objs := decodeAll(t, rendered)
			admin := find(objs, "ClusterRole", "tenantwire-tenant-admin")
			if admin == nil {
				t.Fatal("ClusterRole tenantwire-tenant-admin is missing")
			}
			var adminRole rbacv1.ClusterRole
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(admin.Object, &adminRole); err != nil {
				t.Fatal(err)
			}
			for name, wantAggregatedTo := range aggregatedRoles {
				o := find(objs, "ClusterRole", name)
				if o == nil {
					t.Errorf("ClusterRole %s is missing", name)
					continue
				}
				var role rbacv1.ClusterRole
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &role); err != nil {
					t.Fatal(err)
				}
				var aggregatedTo []string
				for k, v := range role.Labels {
					if builtIn, ok := strings.CutPrefix(k, aggregateLabelPrefix); ok && v == "true" {
						aggregatedTo = append(aggregatedTo, builtIn)
					}
				}
				slices.Sort(aggregatedTo)
				if !slices.Equal(aggregatedTo, wantAggregatedTo) {
					t.Errorf("ClusterRole %s is aggregated to %q, want %q", name, aggregatedTo, wantAggregatedTo)
				}
				if role.AggregationRule != nil {
					t.Errorf("ClusterRole %s aggregates other ClusterRoles: its grants are not reviewable here", name)
				}
				violations := append(leastPrivilegeViolations(role.Rules), secretsViolations(role.Rules)...)
				violations = append(violations, beyondTenantAdmin(role.Rules, adminRole.Rules)...)
				if name == "tenantwire-view" {
					violations = append(violations, writeViolations(role.Rules)...)
				}
				for _, v := range violations {
					t.Errorf("ClusterRole %s: %s", name, v)
				}
			}
		})
	}
}

// beyondTenantAdmin lists what rules grant that the tenant admin's rules do not: anything outside
// tenantwire.io, and any verb on a tenantwire resource the admin lacks.
func beyondTenantAdmin(rules, adminRules []rbacv1.PolicyRule) []string {
	var violations []string
	for i, r := range rules {
		if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
			violations = append(violations, fmt.Sprintf("rule %d: resourceNames or nonResourceURLs", i))
		}
		for _, group := range r.APIGroups {
			if group != "tenantwire.io" {
				violations = append(violations, fmt.Sprintf("rule %d: API group %q is not tenantwire's", i, group))
				continue
			}
			for _, resource := range r.Resources {
				for _, verb := range r.Verbs {
					if !grants(adminRules, group, resource, verb) {
						violations = append(violations, fmt.Sprintf("rule %d: %s %s.%s, which a tenant admin may not", i, verb, resource, group))
					}
				}
			}
		}
	}
	return violations
}

// grants reports whether a rule without resource names allows verb on group/resource.
func grants(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	for _, r := range rules {
		if len(r.ResourceNames) == 0 && slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
			return true
		}
	}
	return false
}

// writeViolations lists every verb other than get, list and watch.
func writeViolations(rules []rbacv1.PolicyRule) []string {
	var violations []string
	for i, r := range rules {
		for _, verb := range r.Verbs {
			if !slices.Contains(readVerbs, verb) {
				violations = append(violations, fmt.Sprintf("rule %d: %s on %q", i, verb, r.Resources))
			}
		}
	}
	return violations
}

// The aggregated roles' checks must fail on the grants they exist to stop.
func TestAggregatedRoleChecksCatchBadGrants(t *testing.T) {
	admin := []rbacv1.PolicyRule{
		{APIGroups: []string{"tenantwire.io"}, Resources: []string{"integrations"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
		{APIGroups: []string{"tenantwire.io"}, Resources: []string{"integrations/status", "integrationapprovals"}, Verbs: []string{"get", "list", "watch"}},
	}
	tw := func(resource string, verbs ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{"tenantwire.io"}, Resources: []string{resource}, Verbs: verbs}
	}
	tests := map[string]struct {
		rule          rbacv1.PolicyRule
		wantViolation string // empty: none
	}{
		"write Integrations":             {rule: tw("integrations", "create", "update", "patch", "delete")},
		"read approvals":                 {rule: tw("integrationapprovals", "get", "list", "watch")},
		"approve a flow":                 {rule: tw("integrationapprovals", "create"), wantViolation: "create integrationapprovals.tenantwire.io"},
		"delete approvals":               {rule: tw("integrationapprovals", "delete"), wantViolation: "delete integrationapprovals.tenantwire.io"},
		"report status":                  {rule: tw("integrations/status", "patch"), wantViolation: "patch integrations/status.tenantwire.io"},
		"delete every Integration":       {rule: tw("integrations", "deletecollection"), wantViolation: "deletecollection integrations.tenantwire.io"},
		"read Tenants":                   {rule: tw("tenants", "get"), wantViolation: "get tenants.tenantwire.io"},
		"write KeyPolicies":              {rule: tw("keypolicies", "update"), wantViolation: "update keypolicies.tenantwire.io"},
		"another group":                  {rule: rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}, wantViolation: `API group "" is not tenantwire's`},
		"one Integration by name":        {rule: rbacv1.PolicyRule{APIGroups: []string{"tenantwire.io"}, Resources: []string{"integrations"}, Verbs: []string{"get"}, ResourceNames: []string{"x"}}, wantViolation: "resourceNames"},
		"admin's resource in a name set": {rule: rbacv1.PolicyRule{APIGroups: []string{"tenantwire.io"}, Resources: []string{"integrations", "tenants"}, Verbs: []string{"get"}}, wantViolation: "get tenants.tenantwire.io"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := strings.Join(beyondTenantAdmin([]rbacv1.PolicyRule{tc.rule}, admin), "\n")
			switch {
			case tc.wantViolation == "" && got != "":
				t.Errorf("unexpected violations:\n%s", got)
			case tc.wantViolation != "" && !strings.Contains(got, tc.wantViolation):
				t.Errorf("violations %q do not contain %q", got, tc.wantViolation)
			}
		})
	}
	if got := writeViolations([]rbacv1.PolicyRule{tw("integrations", "get", "patch")}); len(got) != 1 || !strings.Contains(got[0], "patch") {
		t.Errorf("writeViolations of a patch grant = %q, want one naming patch", got)
	}
	if got := writeViolations([]rbacv1.PolicyRule{tw("integrations", readVerbs...)}); len(got) != 0 {
		t.Errorf("writeViolations of reads = %q, want none", got)
	}
}
