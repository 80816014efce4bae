package security

import (
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var grantEditOnce sync.Once

// grantEdit binds Kubernetes' built-in "edit" ClusterRole to editUser in tenant-alpha. envtest runs
// no controller manager, so the bootstrapped aggregated roles have no rules yet: this first fills
// them in the way the ClusterRole aggregation controller does.
func grantEdit(t *testing.T) {
	t.Helper()
	var err error
	grantEditOnce.Do(func() {
		for _, role := range []string{"view", "edit"} {
			if err = aggregate(role); err != nil {
				return
			}
		}
		err = admin.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: "platform-grants-edit"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: editUser.user}},
		})
		if err == nil {
			err = eventually(func() error { return authorizerAllows(editUser, attrs("list", "", "secrets", "", nsA, "")) })
		}
	})
	if err != nil {
		t.Fatalf("granting edit: %v", err)
	}
}

// aggregate sets the rules of an aggregated ClusterRole to the union of the rules of the
// ClusterRoles its selectors match (sorted by name, duplicates dropped), as the aggregation
// controller in kube-controller-manager does. Roles it selects must already be aggregated ("view"
// before "edit", which selects it).
func aggregate(name string) error {
	role := &rbacv1.ClusterRole{}
	if err := admin.Get(ctx, client.ObjectKey{Name: name}, role); err != nil {
		return err
	}
	if role.AggregationRule == nil {
		return fmt.Errorf("ClusterRole %s is not aggregated", name)
	}
	var rules []rbacv1.PolicyRule
	for _, sel := range role.AggregationRule.ClusterRoleSelectors {
		selector, err := metav1.LabelSelectorAsSelector(&sel)
		if err != nil {
			return err
		}
		list := &rbacv1.ClusterRoleList{}
		if err := admin.List(ctx, list, client.MatchingLabelsSelector{Selector: selector}); err != nil {
			return err
		}
		sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
		for _, source := range list.Items {
			if source.Name == name {
				continue
			}
			for _, r := range source.Rules {
				if !containsRule(rules, r) {
					rules = append(rules, r)
				}
			}
		}
	}
	if len(rules) == 0 {
		return fmt.Errorf("ClusterRole %s aggregates no rules", name)
	}
	role.Rules = rules
	return admin.Update(ctx, role)
}

func containsRule(rules []rbacv1.PolicyRule, r rbacv1.PolicyRule) bool {
	for _, have := range rules {
		if reflect.DeepEqual(have, r) {
			return true
		}
	}
	return false
}
