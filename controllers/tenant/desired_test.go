package tenant

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/apply"
	"github.com/tenantwire/tenantwire/internal/labels"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
)

func sampleTenant(mut ...func(*twv1.Tenant)) *twv1.Tenant {
	t := &twv1.Tenant{
		ObjectMeta: metav1.ObjectMeta{Name: "acme", UID: types.UID("uid-acme"), Generation: 3},
		Spec:       twv1.TenantSpec{DisplayName: "Acme Family Practice"},
	}
	for _, m := range mut {
		m(t)
	}
	return t
}

func TestDesiredNamespace(t *testing.T) {
	ns := desiredNamespace(sampleTenant())
	if ns.Name != "tenant-acme" {
		t.Fatalf("name = %q, want tenant-acme", ns.Name)
	}
	for _, mode := range []string{"enforce", "audit", "warn"} {
		if got := ns.Labels["pod-security.kubernetes.io/"+mode]; got != "restricted" {
			t.Errorf("pod security %s = %q, want restricted", mode, got)
		}
	}
	if ns.Labels[labels.Tenant] != "acme" || ns.Labels[labels.ManagedBy] != labels.ManagedByValue {
		t.Errorf("labels = %v, missing tenant or managed-by", ns.Labels)
	}
	if len(ns.OwnerReferences) != 0 {
		t.Errorf("namespace has owner references %v: a cascading Tenant delete would destroy its data", ns.OwnerReferences)
	}
	if !labels.IsTenantNamespace(ns, "acme") || labels.IsTenantNamespace(ns, "other") {
		t.Error("IsTenantNamespace does not tell the tenant's namespace apart")
	}
	if _, ok := ns.Labels[labels.Purged]; ok {
		t.Errorf("a live tenant namespace is labelled %s: the admission policy would let anyone delete it", labels.Purged)
	}
	if _, ok := ns.Annotations[labels.SecretPathPrefixAnnotation]; ok {
		t.Errorf("a tenant without a secret store records a path prefix: %v", ns.Annotations)
	}
	withStore := desiredNamespace(sampleTenant(func(t *twv1.Tenant) {
		t.Spec.SecretStore = &twv1.TenantSecretStore{Name: "vault", PathPrefix: "tenants/acme/"}
	}))
	if got := withStore.Annotations[labels.SecretPathPrefixAnnotation]; got != "tenants/acme" {
		t.Errorf("%s = %q, want the cleaned path prefix tenants/acme", labels.SecretPathPrefixAnnotation, got)
	}
}

func TestDesiredPurgedNamespaceKeepsTheNamespaceAndMarksItPurged(t *testing.T) {
	live, purged := desiredNamespace(sampleTenant()), desiredPurgedNamespace(sampleTenant())
	if purged.Labels[labels.Purged] != "true" {
		t.Errorf("purged namespace labels = %v, want %s=true", purged.Labels, labels.Purged)
	}
	delete(purged.Labels, labels.Purged)
	if !reflect.DeepEqual(live, purged) {
		t.Errorf("the purged namespace differs from the live one beyond the label:\n%+v\n%+v", live, purged)
	}
}

func TestDesiredChildrenAreLabelledOwnedAndNamespaced(t *testing.T) {
	tn := sampleTenant()
	children := desiredChildren(tn, DefaultDNSTarget, nil)
	seen := map[string]bool{}
	for _, c := range children {
		kindName := c.GetObjectKind().GroupVersionKind().Kind + "/" + c.GetName()
		if seen[kindName] {
			t.Errorf("%s built twice", kindName)
		}
		seen[kindName] = true
		if c.GetNamespace() != "tenant-acme" {
			t.Errorf("%s namespace = %q", kindName, c.GetNamespace())
		}
		for _, k := range []string{labels.ManagedBy, labels.Tenant, labels.Component, labels.PartOf} {
			if c.GetLabels()[k] == "" {
				t.Errorf("%s lacks label %s", kindName, k)
			}
		}
		assertControlledByTenant(t, c)
	}
	if len(children) != 10 {
		t.Errorf("got %d children, want 10", len(children))
	}
}

func assertControlledByTenant(t *testing.T, obj client.Object) {
	t.Helper()
	ref := metav1.GetControllerOf(obj)
	if ref == nil || ref.Kind != "Tenant" || ref.Name != "acme" || ref.UID != "uid-acme" || ref.APIVersion != "tenantwire.io/v1alpha1" {
		t.Errorf("%s controller ref = %+v, want Tenant acme", obj.GetName(), ref)
	}
}

func TestDesiredDefaultDenyPolicySelectsAllAndAllowsNothing(t *testing.T) {
	p := desiredDefaultDenyPolicy(sampleTenant())
	if len(p.Spec.PodSelector.MatchLabels)+len(p.Spec.PodSelector.MatchExpressions) != 0 {
		t.Errorf("pod selector = %v, want every pod", p.Spec.PodSelector)
	}
	if len(p.Spec.PolicyTypes) != 2 || len(p.Spec.Ingress) != 0 || len(p.Spec.Egress) != 0 {
		t.Errorf("spec = %+v, want Ingress+Egress with no rules", p.Spec)
	}
}

func TestDesiredDNSEgressPolicy(t *testing.T) {
	dns := DNSTarget{Namespace: "dns-system", PodSelector: map[string]string{"app": "coredns"}}
	p := desiredDNSEgressPolicy(sampleTenant(), dns)
	if len(p.Spec.Egress) != 1 || len(p.Spec.Egress[0].To) != 1 {
		t.Fatalf("egress = %+v, want one rule with one peer", p.Spec.Egress)
	}
	peer := p.Spec.Egress[0].To[0]
	if got := peer.NamespaceSelector.MatchLabels[labels.NamespaceNameLabel]; got != "dns-system" {
		t.Errorf("namespace selector = %v, want metadata.name=dns-system", peer.NamespaceSelector)
	}
	if peer.PodSelector.MatchLabels["app"] != "coredns" || peer.IPBlock != nil {
		t.Errorf("peer = %+v, want pods app=coredns and no IP block", peer)
	}
	protos := map[corev1.Protocol]bool{}
	for _, port := range p.Spec.Egress[0].Ports {
		if port.Port.IntValue() != 53 {
			t.Errorf("port = %v, want 53", port.Port)
		}
		protos[*port.Protocol] = true
	}
	if !protos[corev1.ProtocolUDP] || !protos[corev1.ProtocolTCP] {
		t.Errorf("protocols = %v, want UDP and TCP", protos)
	}
}

func TestDesiredIngressAllowancePolicy(t *testing.T) {
	tests := map[string]struct {
		allow     []twv1.NamespaceIngress
		wantRules []networkingv1.NetworkPolicyIngressRule
	}{
		"no allowances: no rules": {},
		"namespace without ports allows every port": {
			allow:     []twv1.NamespaceIngress{{Namespace: "ingress-nginx"}},
			wantRules: []networkingv1.NetworkPolicyIngressRule{{From: nsPeer("ingress-nginx")}},
		},
		"ports default to TCP": {
			allow: []twv1.NamespaceIngress{{Namespace: "monitoring", Ports: []twv1.NetworkPort{{Port: 8080}, {Port: 9000, Protocol: "UDP"}}}},
			wantRules: []networkingv1.NetworkPolicyIngressRule{{
				From:  nsPeer("monitoring"),
				Ports: []networkingv1.NetworkPolicyPort{port(corev1.ProtocolTCP, 8080), port(corev1.ProtocolUDP, 9000)},
			}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := desiredIngressAllowancePolicy(sampleTenant(func(tn *twv1.Tenant) { tn.Spec.Networking.AllowIngressFrom = tc.allow }))
			if len(p.Spec.PolicyTypes) != 1 || p.Spec.PolicyTypes[0] != networkingv1.PolicyTypeIngress {
				t.Errorf("policy types = %v, want [Ingress]", p.Spec.PolicyTypes)
			}
			if !equalJSON(t, p.Spec.Ingress, tc.wantRules) {
				t.Errorf("ingress = %+v, want %+v", p.Spec.Ingress, tc.wantRules)
			}
		})
	}
}

func nsPeer(ns string) []networkingv1.NetworkPolicyPeer {
	return []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{labels.NamespaceNameLabel: ns}}}}
}

func TestDesiredResourceQuotaAndLimitRange(t *testing.T) {
	custom := twv1.TenantResources{
		Quota:           corev1.ResourceList{"pods": resource.MustParse("7")},
		DefaultLimits:   corev1.ResourceList{"cpu": resource.MustParse("1")},
		DefaultRequests: corev1.ResourceList{"cpu": resource.MustParse("10m")},
	}
	tests := map[string]struct {
		resources                        twv1.TenantResources
		wantPods, wantLimCPU, wantReqCPU string
	}{
		"defaults when empty": {wantPods: "20", wantLimCPU: "500m", wantReqCPU: "50m"},
		"spec values win":     {resources: custom, wantPods: "7", wantLimCPU: "1", wantReqCPU: "10m"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tn := sampleTenant(func(tn *twv1.Tenant) { tn.Spec.Resources = tc.resources })
			q := desiredResourceQuota(tn)
			if got := q.Spec.Hard["pods"]; got.String() != tc.wantPods {
				t.Errorf("quota pods = %s, want %s", got.String(), tc.wantPods)
			}
			lr := desiredLimitRange(tn)
			if len(lr.Spec.Limits) != 1 || lr.Spec.Limits[0].Type != corev1.LimitTypeContainer {
				t.Fatalf("limits = %+v, want one Container item", lr.Spec.Limits)
			}
			item := lr.Spec.Limits[0]
			if got := item.Default["cpu"]; got.String() != tc.wantLimCPU {
				t.Errorf("default cpu limit = %s, want %s", got.String(), tc.wantLimCPU)
			}
			if got := item.DefaultRequest["cpu"]; got.String() != tc.wantReqCPU {
				t.Errorf("default cpu request = %s, want %s", got.String(), tc.wantReqCPU)
			}
		})
	}
	// The defaults must not be shared with the builder output: mutating one must not leak.
	q := desiredResourceQuota(sampleTenant())
	q.Spec.Hard["pods"] = resource.MustParse("1")
	if got := desiredResourceQuota(sampleTenant()).Spec.Hard["pods"]; got.String() != "20" {
		t.Errorf("default quota was mutated through a builder result: pods = %s", got.String())
	}
}

func TestDesiredRoleBinding(t *testing.T) {
	tests := map[string]struct {
		subjects []twv1.Subject
		want     int
	}{
		"no subjects still binds (and so revokes)": {},
		"users and groups": {
			subjects: []twv1.Subject{{Kind: twv1.SubjectGroup, Name: "oidc:acme-admins"}, {Kind: twv1.SubjectUser, Name: "dr@acme.example"}},
			want:     2,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rb := desiredRoleBinding(sampleTenant(), AdminsBindingName, AdminClusterRole, tc.subjects)
			if rb.RoleRef.Kind != "ClusterRole" || rb.RoleRef.Name != AdminClusterRole {
				t.Errorf("roleRef = %+v", rb.RoleRef)
			}
			if len(rb.Subjects) != tc.want {
				t.Fatalf("subjects = %+v, want %d", rb.Subjects, tc.want)
			}
			for i, s := range rb.Subjects {
				if s.Kind != string(tc.subjects[i].Kind) || s.Name != tc.subjects[i].Name || s.APIGroup != "rbac.authorization.k8s.io" {
					t.Errorf("subject %d = %+v, want %+v", i, s, tc.subjects[i])
				}
			}
		})
	}
}

func TestDesiredSyncServiceAccountMountsNoToken(t *testing.T) {
	sa := desiredSyncServiceAccount(sampleTenant())
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Errorf("automountServiceAccountToken = %v, want false", sa.AutomountServiceAccountToken)
	}
}

// The intent digest must depend on the spec and nothing else, or steady state would write.
func TestDesiredChildrenIntentIsDeterministic(t *testing.T) {
	scheme := twscheme.New()
	a := desiredChildren(sampleTenant(), DefaultDNSTarget, nil)
	b := desiredChildren(sampleTenant(), DefaultDNSTarget, nil)
	changed := desiredChildren(sampleTenant(func(tn *twv1.Tenant) {
		tn.Spec.Admins = []twv1.Subject{{Kind: twv1.SubjectUser, Name: "x"}}
	}), DefaultDNSTarget, nil)
	differ := 0
	for i := range a {
		ia, ib, ic := intentDigest(t, a[i], scheme), intentDigest(t, b[i], scheme), intentDigest(t, changed[i], scheme)
		if ia != ib {
			t.Errorf("%s: digest differs between identical builds", a[i].GetName())
		}
		if ia != ic {
			differ++
		}
	}
	if differ != 1 {
		t.Errorf("adding an admin changed %d children's intent, want exactly 1 (the admins binding)", differ)
	}
}

func intentDigest(t *testing.T, obj client.Object, scheme *runtime.Scheme) string {
	t.Helper()
	u, err := apply.Intent(obj, scheme)
	if err != nil {
		t.Fatal(err)
	}
	return u.GetAnnotations()[apply.IntentAnnotation]
}
