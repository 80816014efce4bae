package tenant

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"path"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/labels"
)

// Names of the children in a tenant namespace. They are part of the contract with admins (who see
// them) and with the RBAC manifests (which name the ClusterRoles), so they are fixed.
const (
	DefaultDenyPolicyName      = "tenantwire-default-deny"
	DNSEgressPolicyName        = "tenantwire-allow-dns"
	IngressAllowancePolicyName = "tenantwire-allow-ingress"
	MetricsScrapePolicyName    = "tenantwire-allow-metrics-scrape"
	QuotaName                  = "tenantwire-quota"
	LimitRangeName             = "tenantwire-limits"
	AdminsBindingName          = "tenantwire-admins"
	ViewersBindingName         = "tenantwire-viewers"
	ApproversBindingName       = "tenantwire-approvers"
	SyncServiceAccountName     = "tenantwire-sync"

	// AdminClusterRole, ViewerClusterRole and ApproverClusterRole ship with the operator's
	// manifests; the operator may only bind them (RBAC "bind" by resourceNames), never grant more.
	AdminClusterRole    = "tenantwire-tenant-admin"
	ViewerClusterRole   = "tenantwire-tenant-viewer"
	ApproverClusterRole = "tenantwire-tenant-approver"
)

// Pod Security Admission labels: the tenant namespace enforces, audits and warns at "restricted".
var podSecurityLabels = map[string]string{
	"pod-security.kubernetes.io/enforce":         "restricted",
	"pod-security.kubernetes.io/enforce-version": "latest",
	"pod-security.kubernetes.io/audit":           "restricted",
	"pod-security.kubernetes.io/audit-version":   "latest",
	"pod-security.kubernetes.io/warn":            "restricted",
	"pod-security.kubernetes.io/warn-version":    "latest",
}

// DNSTarget is where the cluster DNS runs; tenant pods may reach it and nothing else by default.
type DNSTarget struct {
	Namespace   string
	PodSelector map[string]string
}

// MetricsScraper is who may scrape the sync pods' metrics (a Prometheus): the pods of one
// namespace, optionally narrowed by labels.
type MetricsScraper struct {
	Namespace   string
	PodSelector map[string]string
}

// SyncMetricsPort is the port the sync runtime serves /metrics on (integration.MetricsPort; the
// tenant package cannot import the Integration controller's).
const SyncMetricsPort = 9090

// syncPodSelector selects the sync pods of every Integration in the namespace, not the export Jobs.
var syncPodSelector = map[string]string{"app.kubernetes.io/name": "tenantwire-sync"}

// DefaultDNSTarget is CoreDNS as kubeadm, kind and most distributions deploy it.
var DefaultDNSTarget = DNSTarget{Namespace: "kube-system", PodSelector: map[string]string{"k8s-app": "kube-dns"}}

// Defaults applied when a Tenant leaves resources empty; documented on the API fields.
var (
	defaultQuota = corev1.ResourceList{
		"requests.cpu":    resource.MustParse("2"),
		"requests.memory": resource.MustParse("4Gi"),
		"limits.cpu":      resource.MustParse("4"),
		"limits.memory":   resource.MustParse("8Gi"),
		"pods":            resource.MustParse("20"),
	}
	defaultLimits   = corev1.ResourceList{"cpu": resource.MustParse("500m"), "memory": resource.MustParse("512Mi")}
	defaultRequests = corev1.ResourceList{"cpu": resource.MustParse("50m"), "memory": resource.MustParse("64Mi")}
)

// desiredChildren returns every object a Tenant owns inside its namespace, in apply order.
func desiredChildren(t *twv1.Tenant, dns DNSTarget, scraper *MetricsScraper) []client.Object {
	return []client.Object{
		desiredDefaultDenyPolicy(t),
		desiredDNSEgressPolicy(t, dns),
		desiredIngressAllowancePolicy(t),
		desiredMetricsScrapePolicy(t, scraper),
		desiredResourceQuota(t),
		desiredLimitRange(t),
		desiredRoleBinding(t, AdminsBindingName, AdminClusterRole, t.Spec.Admins),
		desiredRoleBinding(t, ViewersBindingName, ViewerClusterRole, t.Spec.Viewers),
		desiredRoleBinding(t, ApproversBindingName, ApproverClusterRole, t.Spec.Approvers),
		desiredSyncServiceAccount(t),
	}
}

func ownerRef(t *twv1.Tenant) []metav1.OwnerReference {
	return []metav1.OwnerReference{*metav1.NewControllerRef(t, twv1.GroupVersion.WithKind("Tenant"))}
}

func childMeta(t *twv1.Tenant, name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       t.NamespaceName(),
		Labels:          labels.ForTenant(t.Name, component),
		OwnerReferences: ownerRef(t),
	}
}

// desiredNamespace has no owner reference on purpose: a cascading (for example foreground)
// deletion of the Tenant must not take the tenant's data with it. The namespace goes only when the
// operator purges it at the end of the grace period; the labels tie it to its Tenant.
func desiredNamespace(t *twv1.Tenant) *corev1.Namespace {
	l := labels.ForTenant(t.Name, "namespace")
	for k, v := range podSecurityLabels {
		l[k] = v
	}
	ns := &corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: t.NamespaceName(), Labels: l},
	}
	if store := t.Spec.SecretStore; store != nil {
		// What the admission policy lets a PushSecret of this namespace write under.
		ns.Annotations = map[string]string{labels.SecretPathPrefixAnnotation: path.Clean(store.PathPrefix)}
	}
	return ns
}

// desiredPurgedNamespace is the namespace once its keyring is confirmed destroyed: labelled
// purged, which the admission policy tenantwire-tenant-namespace-deletion requires before the
// namespace may be deleted.
func desiredPurgedNamespace(t *twv1.Tenant) *corev1.Namespace {
	ns := desiredNamespace(t)
	ns.Labels[labels.Purged] = "true"
	return ns
}

// desiredDefaultDenyPolicy selects every pod and allows nothing: all other policies are exceptions.
func desiredDefaultDenyPolicy(t *twv1.Tenant) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: childMeta(t, DefaultDenyPolicyName, "isolation"),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
	}
}

func desiredDNSEgressPolicy(t *twv1.Tenant, dns DNSTarget) *networkingv1.NetworkPolicy {
	port := intstr.FromInt32(53)
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: childMeta(t, DNSEgressPolicyName, "isolation"),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To: []networkingv1.NetworkPolicyPeer{{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{labels.NamespaceNameLabel: dns.Namespace}},
					PodSelector:       &metav1.LabelSelector{MatchLabels: dns.PodSelector},
				}},
				Ports: []networkingv1.NetworkPolicyPort{
					{Protocol: ptr.To(corev1.ProtocolUDP), Port: &port},
					{Protocol: ptr.To(corev1.ProtocolTCP), Port: &port},
				},
			}},
		},
	}
}

// desiredIngressAllowancePolicy always exists so the set of children is fixed; with no allowances
// it has no rules and allows nothing.
func desiredIngressAllowancePolicy(t *twv1.Tenant) *networkingv1.NetworkPolicy {
	var rules []networkingv1.NetworkPolicyIngressRule
	for _, a := range t.Spec.Networking.AllowIngressFrom {
		rule := networkingv1.NetworkPolicyIngressRule{
			From: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{labels.NamespaceNameLabel: a.Namespace}},
			}},
		}
		for _, p := range a.Ports {
			port := intstr.FromInt32(p.Port)
			proto := corev1.Protocol(p.Protocol)
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			rule.Ports = append(rule.Ports, networkingv1.NetworkPolicyPort{Protocol: &proto, Port: &port})
		}
		rules = append(rules, rule)
	}
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: childMeta(t, IngressAllowancePolicyName, "isolation"),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     rules,
		},
	}
}

// desiredMetricsScrapePolicy lets the platform's scraper reach the sync pods' metrics port, and
// nothing else of the namespace. It always exists so the set of children is fixed; without a
// scraper (--sync-metrics-scraper-namespace) it has no rules and allows nothing.
func desiredMetricsScrapePolicy(t *twv1.Tenant, scraper *MetricsScraper) *networkingv1.NetworkPolicy {
	var rules []networkingv1.NetworkPolicyIngressRule
	if scraper != nil {
		peer := networkingv1.NetworkPolicyPeer{
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{labels.NamespaceNameLabel: scraper.Namespace}},
		}
		if len(scraper.PodSelector) > 0 {
			peer.PodSelector = &metav1.LabelSelector{MatchLabels: scraper.PodSelector}
		}
		port := intstr.FromInt32(SyncMetricsPort)
		rules = []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{peer},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolTCP), Port: &port}},
		}}
	}
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: childMeta(t, MetricsScrapePolicyName, "isolation"),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: syncPodSelector},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     rules,
		},
	}
}

func desiredResourceQuota(t *twv1.Tenant) *corev1.ResourceQuota {
	hard := t.Spec.Resources.Quota
	if len(hard) == 0 {
		hard = defaultQuota
	}
	return &corev1.ResourceQuota{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ResourceQuota"},
		ObjectMeta: childMeta(t, QuotaName, "isolation"),
		Spec:       corev1.ResourceQuotaSpec{Hard: hard.DeepCopy()},
	}
}

func desiredLimitRange(t *twv1.Tenant) *corev1.LimitRange {
	limits, requests := t.Spec.Resources.DefaultLimits, t.Spec.Resources.DefaultRequests
	if len(limits) == 0 {
		limits = defaultLimits
	}
	if len(requests) == 0 {
		requests = defaultRequests
	}
	return &corev1.LimitRange{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "LimitRange"},
		ObjectMeta: childMeta(t, LimitRangeName, "isolation"),
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type:           corev1.LimitTypeContainer,
			Default:        limits.DeepCopy(),
			DefaultRequest: requests.DeepCopy(),
		}}},
	}
}

// desiredRoleBinding binds subjects to one of the shipped tenant ClusterRoles inside the tenant
// namespace. It exists even with no subjects so that removing the last admin removes their access.
func desiredRoleBinding(t *twv1.Tenant, name, clusterRole string, subjects []twv1.Subject) *rbacv1.RoleBinding {
	var rbSubjects []rbacv1.Subject
	for _, s := range subjects {
		rbSubjects = append(rbSubjects, rbacv1.Subject{Kind: string(s.Kind), APIGroup: rbacv1.GroupName, Name: s.Name})
	}
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: childMeta(t, name, "rbac"),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
		Subjects:   rbSubjects,
	}
}

// desiredSyncServiceAccount is the identity of the tenant's sync workloads. Its token is never
// mounted: the sync runtime reads nothing from the Kubernetes API.
func desiredSyncServiceAccount(t *twv1.Tenant) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   childMeta(t, SyncServiceAccountName, "sync"),
		AutomountServiceAccountToken: ptr.To(false),
	}
}
