package security

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"testing"

	"github.com/mattfenwick/cyclonus/pkg/matcher"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// port is one destination port and its protocol.
type port struct {
	number   int
	protocol corev1.Protocol
}

func tcp(n int) port { return port{n, corev1.ProtocolTCP} }
func udp(n int) port { return port{n, corev1.ProtocolUDP} }

// everyPort is "any port" in the truth table: every port any of our policies names, both DNS
// protocols, and a few that none names.
var everyPort = []port{udp(53), tcp(53), tcp(80), tcp(443), tcp(8081), tcp(8443), tcp(9090), udp(9090), tcp(22), tcp(5432)}

// healthPort is the sync pods' health port, where the operator reads the cycle summary.
var healthPort = tcp(8081)

// notHealth is everyPort without the health port.
func notHealth() []port {
	var out []port
	for _, p := range everyPort {
		if p != healthPort {
			out = append(out, p)
		}
	}
	return out
}

// operatorPodLabels are the labels of the manager's pods (config/manager), which the manager is
// told with --operator-pod-selector.
var operatorPodLabels = map[string]string{"app.kubernetes.io/name": "tenantwire", "app.kubernetes.io/component": "manager"}

// flow is one row of the truth table: traffic from one peer to another on some ports, and whether
// NetworkPolicy semantics allow it (egress at the source and ingress at the destination).
type flow struct {
	name     string
	from, to *matcher.TrafficPeer
	ports    []port
	allowed  bool
}

// TestNetworkIsolationJudgedByAnIndependentEngine reads back the NetworkPolicies the operator
// created for two tenants and has cyclonus's policy matcher, not our code, decide every flow.
func TestNetworkIsolationJudgedByAnIndependentEngine(t *testing.T) {
	twoTenants(t)
	list := &networkingv1.NetworkPolicyList{}
	if err := admin.List(ctx, list); err != nil {
		t.Fatal(err)
	}
	var policies []*networkingv1.NetworkPolicy
	for i := range list.Items {
		policies = append(policies, &list.Items[i])
	}
	engine := matcher.BuildNetworkPolicies(true, policies)
	flows := truthTable(t)
	for _, f := range flows {
		for _, p := range f.ports {
			t.Run(fmt.Sprintf("%s %d-%s", f.name, p.number, p.protocol), func(t *testing.T) {
				traffic := &matcher.Traffic{Source: f.from, Destination: f.to, ResolvedPort: p.number, Protocol: p.protocol}
				result := engine.IsTrafficAllowed(traffic)
				if result.IsAllowed() != f.allowed {
					t.Errorf("allowed = %v, want %v\n%s%s", result.IsAllowed(), f.allowed, traffic.Table(), result.Table())
				}
			})
		}
	}

	// The denials above come from the policies, not from the engine: with none, it allows all.
	open := matcher.BuildNetworkPolicies(true, nil)
	for _, f := range flows {
		for _, p := range f.ports {
			if !open.IsTrafficAllowed(&matcher.Traffic{Source: f.from, Destination: f.to, ResolvedPort: p.number, Protocol: p.protocol}).IsAllowed() {
				t.Errorf("%s %d/%s is denied without any policy: the engine is not judging our policies", f.name, p.number, p.protocol)
			}
		}
	}
}

// truthTable is what the issue asks to prove, with the peers labelled as they are in the cluster:
// namespaces with the labels the API server gives them, sync pods with the labels of the
// operator's Deployments.
func truthTable(t *testing.T) []flow {
	t.Helper()
	pod := func(ns string, labels map[string]string, ip string) *matcher.TrafficPeer {
		nsObj := &corev1.Namespace{}
		if err := admin.Get(ctx, client.ObjectKey{Name: ns}, nsObj); err != nil {
			t.Fatal(err)
		}
		return &matcher.TrafficPeer{IP: ip, Internal: &matcher.InternalPeer{Namespace: ns, NamespaceLabels: nsObj.Labels, PodLabels: labels}}
	}
	syncPod := func(ns, integration, ip string) *matcher.TrafficPeer {
		d := &appsv1.Deployment{}
		if err := admin.Get(ctx, syncDeploymentKey(ns, integration), d); err != nil {
			t.Fatal(err)
		}
		return pod(ns, d.Spec.Template.Labels, ip)
	}
	external := func(ip string) *matcher.TrafficPeer { return &matcher.TrafficPeer{IP: ip} }

	var (
		alphaRecords = syncPod(nsA, records, "10.244.1.10")
		alphaHooks   = syncPod(nsA, hooks, "10.244.1.11")
		bravoRecords = syncPod(nsB, records, "10.244.2.10")
		syncPods     = []struct {
			name string
			peer *matcher.TrafficPeer
		}{{"alpha/records", alphaRecords}, {"alpha/hooks", alphaHooks}, {"bravo/records", bravoRecords}}

		clusterDNS    = pod("kube-system", map[string]string{"k8s-app": "kube-dns"}, "10.244.0.10")
		kubeSystemPod = pod("kube-system", map[string]string{"k8s-app": "metrics-server"}, "10.244.0.20")
		ingressPod    = pod(ingressNS, map[string]string{"app": "ingress-nginx"}, "10.244.3.10")
		monitoringPod = pod(monitoringNS, map[string]string{"app": "prometheus"}, "10.244.4.10")
		intruderPod   = pod(undeclaredNS, map[string]string{"app": "intruder"}, "10.244.5.10")
		// The platform's Prometheus, another pod of its namespace, and a pod elsewhere that
		// copies its labels.
		scraperPod        = pod(scraperNS, map[string]string{"app.kubernetes.io/name": "prometheus"}, "10.244.6.10")
		scraperNSOtherPod = pod(scraperNS, map[string]string{"app.kubernetes.io/name": "grafana"}, "10.244.6.11")
		fakeScraperPod    = pod(undeclaredNS, map[string]string{"app.kubernetes.io/name": "prometheus"}, "10.244.5.11")
		operatorPod       = pod(managerNamespace, operatorPodLabels, "10.244.7.10")
		// Another pod of the operator's namespace, and a pod posing as the operator elsewhere.
		operatorNSPod = pod(managerNamespace, map[string]string{"app": "other"}, "10.244.7.11")
		impostorPod   = pod(undeclaredNS, operatorPodLabels, "10.244.5.12")

		declaredDestination = external("203.0.113.10")
		hooksDestination    = external("192.0.2.10")
		undeclaredPublicIP  = external("198.51.100.10")
		publicResolver      = external("8.8.8.8")
		cloudMetadata       = external("169.254.169.254")
	)
	apiServerAddr, apiServerPort := apiServerEndpoint(t)
	kubernetesService := &corev1.Service{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: "default", Name: "kubernetes"}, kubernetesService); err != nil {
		t.Fatal(err)
	}

	flows := []flow{
		// Tenant A and tenant B never reach each other, in either direction, on any port.
		{"alpha/records to bravo/records", alphaRecords, bravoRecords, everyPort, false},
		{"alpha/hooks to bravo/records", alphaHooks, bravoRecords, everyPort, false},
		{"bravo/records to alpha/records", bravoRecords, alphaRecords, everyPort, false},
		{"bravo/records to alpha/hooks", bravoRecords, alphaHooks, everyPort, false},
		// Nor do two workloads of one tenant.
		{"alpha/records to alpha/hooks", alphaRecords, alphaHooks, everyPort, false},
		{"alpha/hooks to alpha/records", alphaHooks, alphaRecords, everyPort, false},

		// Each sync pod reaches its declared destinations, on the declared port only.
		{"alpha/records to its declared CIDR", alphaRecords, declaredDestination, []port{tcp(443)}, true},
		{"bravo/records to its declared CIDR", bravoRecords, declaredDestination, []port{tcp(443)}, true},
		{"alpha/hooks to its declared CIDR", alphaHooks, hooksDestination, []port{tcp(443)}, true},
		{"alpha/records to its declared CIDR on an undeclared port", alphaRecords, declaredDestination, []port{tcp(80), tcp(8443), udp(443)}, false},
		{"alpha/records to the other Integration's CIDR", alphaRecords, hooksDestination, []port{tcp(443)}, false},
		{"alpha/hooks to the other Integration's CIDR", alphaHooks, declaredDestination, []port{tcp(443)}, false},

		// Ingress only from the declared namespaces, on their declared ports. The webhook
		// Integration admits every declared namespace on 8443, whatever ports the Tenant lists for
		// it (docs/security.md, "Network policies").
		{"ingress-nginx to alpha/hooks on the webhook port", ingressPod, alphaHooks, []port{tcp(8443)}, true},
		{"ingress-nginx to alpha/records on its declared port", ingressPod, alphaRecords, []port{tcp(8443)}, true},
		{"ingress-nginx to alpha/hooks on other ports", ingressPod, alphaHooks, []port{tcp(443), tcp(9090), tcp(80)}, false},
		{"monitoring to bravo/records on its declared port", monitoringPod, bravoRecords, []port{tcp(9090)}, true},
		{"monitoring to bravo/records on other ports", monitoringPod, bravoRecords, []port{tcp(8443), udp(9090), tcp(443)}, false},
		{"monitoring to alpha/hooks on the webhook port", monitoringPod, alphaHooks, []port{tcp(8443)}, true},
		{"an undeclared namespace to alpha/hooks", intruderPod, alphaHooks, everyPort, false},
		{"an undeclared namespace to bravo/records", intruderPod, bravoRecords, everyPort, false},
		{"kube-system to alpha/hooks", kubeSystemPod, alphaHooks, everyPort, false},

		// The operator, and only the operator, reads the cycle summary on the health port.
		{"the operator to alpha/records on the health port", operatorPod, alphaRecords, []port{healthPort}, true},
		{"the operator to alpha/hooks on the health port", operatorPod, alphaHooks, []port{healthPort}, true},
		{"the operator to bravo/records on the health port", operatorPod, bravoRecords, []port{healthPort}, true},
		{"the operator to alpha/records on other ports", operatorPod, alphaRecords, notHealth(), false},
		{"another pod of the operator's namespace to alpha/records", operatorNSPod, alphaRecords, everyPort, false},
		{"a pod with the operator's labels elsewhere to alpha/records", impostorPod, alphaRecords, everyPort, false},
		{"monitoring to bravo/records on the health port", monitoringPod, bravoRecords, []port{healthPort}, false},
		{"an outside address to alpha/hooks", undeclaredPublicIP, alphaHooks, everyPort, false},
	}
	for _, sp := range syncPods {
		name, p := sp.name, sp.peer
		flows = append(flows,
			// Cluster DNS, and only the cluster DNS, on 53.
			flow{name + " to the cluster DNS", p, clusterDNS, []port{udp(53), tcp(53)}, true},
			flow{name + " to the cluster DNS on another port", p, clusterDNS, []port{tcp(80), tcp(443), tcp(9153)}, false},
			flow{name + " to a non-DNS pod in kube-system", p, kubeSystemPod, []port{udp(53), tcp(53), tcp(443)}, false},
			flow{name + " to DNS on a public resolver", p, publicResolver, []port{udp(53), tcp(53)}, false},
			// Anything it did not declare.
			flow{name + " to an undeclared public IP", p, undeclaredPublicIP, everyPort, false},
			flow{name + " to the cloud metadata service", p, cloudMetadata, []port{tcp(80), tcp(443)}, false},
			flow{name + " to the API server", p, external(apiServerAddr), []port{tcp(apiServerPort), tcp(443), tcp(6443)}, false},
			flow{name + " to the kubernetes Service", p, external(kubernetesService.Spec.ClusterIP), []port{tcp(443)}, false},
			flow{name + " to pods of an undeclared namespace", p, intruderPod, everyPort, false},
			// The platform's scraper (--sync-metrics-scraper-namespace and -pod-selector) reaches
			// the metrics port and nothing else; nobody else gets in through that exception.
			flow{"the platform's Prometheus to " + name + " metrics", scraperPod, p, []port{tcp(9090)}, true},
			flow{"the platform's Prometheus to " + name + " on other ports", scraperPod, p, withoutPort(everyPort, tcp(9090)), false},
			flow{"another pod of the scraper namespace to " + name, scraperNSOtherPod, p, everyPort, false},
			flow{"a pod with the scraper's labels elsewhere to " + name, fakeScraperPod, p, everyPort, false},
		)
	}
	return flows
}

func withoutPort(ports []port, drop port) []port {
	var out []port
	for _, p := range ports {
		if p != drop {
			out = append(out, p)
		}
	}
	return out
}

// apiServerEndpoint is the address and port the API server of this test listens on.
func apiServerEndpoint(t *testing.T) (string, int) {
	t.Helper()
	u, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	host, p, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return host, n
}
