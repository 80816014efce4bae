package tenant

import (
	"testing"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/controllers/integration"
)

// The sync pods' metrics port must be reachable from the platform's scraper and from nothing else:
// without --sync-metrics-scraper-namespace the monitoring namespace reaches no sync pod on any
// port; with it, only the metrics port, only from that namespace (and its selected pods). An
// independent engine (cyclonus) judges the tenant's and the Integration's NetworkPolicies, and the
// sync pod carries the labels the Integration controller really gives it.
func TestMetricsScrapeReachesOnlyTheSyncMetricsPort(t *testing.T) {
	tn := sampleTenant(func(tn *twv1.Tenant) {
		tn.Spec.SecretStore = &twv1.TenantSecretStore{Name: "tenant-vault"}
	})
	in := &twv1.Integration{
		ObjectMeta: metav1.ObjectMeta{Name: "cerbo-qb", Namespace: tn.NamespaceName()},
		Spec: twv1.IntegrationSpec{
			Source: twv1.Endpoint{System: twv1.SystemCerbo, URL: "https://acme.md-hq.com/api/v1",
				Credentials: twv1.Credentials{RemoteKey: "cerbo/api", Properties: []string{"username", "api_key"}}},
			Destination: twv1.Endpoint{System: twv1.SystemQuickBooks, URL: "https://quickbooks.api.intuit.com",
				Credentials: twv1.Credentials{RemoteKey: "quickbooks/oauth"}},
			State:  twv1.StateRunning,
			Egress: []twv1.EgressRule{{CIDR: "203.0.113.0/24"}},
		},
	}
	objs, err := integration.DesiredObjects(in, tn, "tenantwire:dev", "hash", "")
	if err != nil {
		t.Fatal(err)
	}
	var syncLabels map[string]string
	var integrationPolicies []*networkingv1.NetworkPolicy
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.Deployment:
			syncLabels = o.Spec.Template.Labels
		case *networkingv1.NetworkPolicy:
			integrationPolicies = append(integrationPolicies, o)
		}
	}
	if syncLabels == nil {
		t.Fatal("no sync Deployment among the Integration's objects")
	}
	nsLabels := func(ns string) map[string]string { return map[string]string{"kubernetes.io/metadata.name": ns} }
	peer := func(ns string, podLabels map[string]string, ip string) *matcher.TrafficPeer {
		return &matcher.TrafficPeer{IP: ip, Internal: &matcher.InternalPeer{Namespace: ns, NamespaceLabels: nsLabels(ns), PodLabels: podLabels}}
	}
	var (
		syncPod    = peer(tn.NamespaceName(), syncLabels, "10.244.1.10")
		prometheus = peer("monitoring", map[string]string{"app.kubernetes.io/name": "prometheus"}, "10.244.4.10")
		otherPod   = peer("monitoring", map[string]string{"app": "grafana"}, "10.244.4.11")
		intruder   = peer("intruder", map[string]string{"app.kubernetes.io/name": "prometheus"}, "10.244.5.10")
		metrics    = integration.MetricsPort
	)
	otherPorts := []int{integration.HealthPort, integration.WebhookPort, 443, 80}

	type flow struct {
		from    *matcher.TrafficPeer
		name    string
		port    int
		allowed bool
	}
	tests := map[string]struct {
		scraper *MetricsScraper
		flows   []flow
	}{
		"no scraper: the monitoring namespace reaches nothing": {
			flows: []flow{{prometheus, "prometheus", metrics, false}, {otherPod, "another monitoring pod", metrics, false}},
		},
		"scraper namespace: its pods reach the metrics port only": {
			scraper: &MetricsScraper{Namespace: "monitoring"},
			flows: []flow{{prometheus, "prometheus", metrics, true}, {otherPod, "another monitoring pod", metrics, true},
				{intruder, "a pod of another namespace with the same labels", metrics, false}},
		},
		"scraper namespace and pods: only those pods, only the metrics port": {
			scraper: &MetricsScraper{Namespace: "monitoring", PodSelector: map[string]string{"app.kubernetes.io/name": "prometheus"}},
			flows: []flow{{prometheus, "prometheus", metrics, true}, {otherPod, "another monitoring pod", metrics, false},
				{intruder, "a pod of another namespace with the same labels", metrics, false}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			policies := append([]*networkingv1.NetworkPolicy{}, integrationPolicies...)
			for _, c := range desiredChildren(tn, DefaultDNSTarget, tc.scraper) {
				if np, ok := c.(*networkingv1.NetworkPolicy); ok {
					policies = append(policies, np)
				}
			}
			engine := matcher.BuildNetworkPolicies(true, policies)
			flows := tc.flows
			// No port but the metrics port, from anyone.
			for _, p := range otherPorts {
				flows = append(flows, flow{prometheus, "prometheus", p, false})
			}
			for _, f := range flows {
				for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP} {
					want := f.allowed && proto == corev1.ProtocolTCP
					traffic := &matcher.Traffic{Source: f.from, Destination: syncPod, ResolvedPort: f.port, Protocol: proto}
					if got := engine.IsTrafficAllowed(traffic).IsAllowed(); got != want {
						t.Errorf("%s to the sync pod on %d/%s: allowed = %v, want %v", f.name, f.port, proto, got, want)
					}
				}
			}
		})
	}
	// The denials come from the policies: with none, the engine allows everything.
	if !matcher.BuildNetworkPolicies(true, nil).IsTrafficAllowed(&matcher.Traffic{Source: prometheus, Destination: syncPod, ResolvedPort: metrics, Protocol: corev1.ProtocolTCP}).IsAllowed() {
		t.Error("the engine denies without any policy: it is not judging ours")
	}
	if SyncMetricsPort != integration.MetricsPort {
		t.Errorf("SyncMetricsPort = %d, the sync runtime serves metrics on %d", SyncMetricsPort, integration.MetricsPort)
	}
}
