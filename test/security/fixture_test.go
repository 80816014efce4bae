package security

import (
	"fmt"
	"slices"
	"sync"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/keyring"
)

// The world both proofs run against: two practices, each with a keyring consumer Integration, and
// in the first one an inbound-webhook Integration; namespaces the tenants declare for ingress, and
// one they do not.
const (
	tenantA, tenantB = "alpha", "bravo"
	nsA, nsB         = "tenant-alpha", "tenant-bravo"

	// records reads the keyring and may reach declaredCIDR on 443 (the default port).
	records      = "records"
	declaredCIDR = "203.0.113.0/24"
	// hooks receives webhooks on 8443 and may reach hooksCIDR on 443; it is no keyring consumer.
	hooks     = "hooks"
	hooksCIDR = "192.0.2.0/24"

	// Both tenants allow ingress from ingressNS on 8443 and from monitoringNS on 9090.
	ingressNS    = "ingress-nginx"
	monitoringNS = "monitoring"
	// undeclaredNS is a namespace no tenant names.
	undeclaredNS = "intruders"
	// scraperNS is the platform's Prometheus, named by --sync-metrics-scraper-namespace (its pods
	// by scraperPodSelector), not by any Tenant.
	scraperNS          = "platform-prometheus"
	scraperPodSelector = "app.kubernetes.io/name=prometheus"

	keyringConsumerLabel = "tenantwire.io/uses-keyring"
	fixtureTimeout       = 60 * time.Second
)

var (
	fixtureOnce sync.Once
	fixtureErr  error
)

// twoTenants builds the world once for the whole package and fails the test if it could not.
func twoTenants(t interface{ Fatalf(string, ...any) }) {
	fixtureOnce.Do(func() { fixtureErr = buildTwoTenants() })
	if fixtureErr != nil {
		t.Fatalf("building two tenants: %v", fixtureErr)
	}
}

func buildTwoTenants() error {
	for _, name := range []string{ingressNS, monitoringNS, undeclaredNS, scraperNS} {
		if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			return err
		}
	}
	policy := &twv1.KeyPolicy{ObjectMeta: metav1.ObjectMeta{Name: "standard"}, Spec: twv1.KeyPolicySpec{
		Default:   true,
		Source:    twv1.KeySource{Type: twv1.KeySourceGenerated},
		Rotation:  twv1.KeyRotation{Period: metav1.Duration{Duration: 2160 * time.Hour}, RetainVersions: 2},
		Consumers: &metav1.LabelSelector{MatchLabels: map[string]string{keyringConsumerLabel: "true"}},
	}}
	if err := admin.Create(ctx, policy); err != nil {
		return err
	}
	for _, name := range []string{tenantA, tenantB} {
		if err := admin.Create(ctx, tenantFor(name)); err != nil {
			return err
		}
	}
	integrations := []*twv1.Integration{
		integrationFor(nsA, records, twv1.SystemCerbo, declaredCIDR, true),
		integrationFor(nsA, hooks, twv1.SystemWebhook, hooksCIDR, false),
		integrationFor(nsB, records, twv1.SystemCerbo, declaredCIDR, true),
	}
	for _, in := range integrations {
		ns := in.Namespace
		if err := eventually(func() error { return admin.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}) }); err != nil {
			return err
		}
		if err := admin.Create(ctx, in); err != nil {
			return err
		}
	}
	for _, in := range integrations {
		if err := playExternalSecretsOperator(in); err != nil {
			return fmt.Errorf("%s/%s credentials: %w", in.Namespace, in.Name, err)
		}
	}
	// Converged: every sync Deployment, both keyrings, their reader bindings naming exactly the
	// consumers, and the network policies of both tenants.
	for _, in := range integrations {
		if err := eventually(func() error { return admin.Get(ctx, syncDeploymentKey(in.Namespace, in.Name), &appsv1.Deployment{}) }); err != nil {
			return fmt.Errorf("sync Deployment of %s/%s: %w", in.Namespace, in.Name, err)
		}
	}
	// Ready means every child of the Tenant was applied, its RoleBindings included: the manager
	// could create them under its own RBAC.
	for _, name := range []string{tenantA, tenantB} {
		if err := eventually(func() error { return tenantReady(name) }); err != nil {
			return fmt.Errorf("tenant %s: %w", name, err)
		}
	}
	for _, ns := range []string{nsA, nsB} {
		if err := eventually(func() error { return keyringReadable(ns) }); err != nil {
			return fmt.Errorf("keyring of %s: %w", ns, err)
		}
		consumer := serviceAccount(ns, syncServiceAccount(records))
		if err := eventually(func() error {
			return authorizerAllows(consumer, attrs("get", "", "secrets", "", ns, keyring.SecretName))
		}); err != nil {
			return err
		}
	}
	for _, grant := range []struct {
		s subject
		a authorizationv1.ResourceAttributes
	}{
		{tenantAdmin, attrs("update", "tenantwire.io", "integrations", "", nsA, records)},
		{tenantViewer, attrs("list", "", "pods", "", nsA, "")},
	} {
		if err := eventually(func() error { return authorizerAllows(grant.s, grant.a) }); err != nil {
			return err
		}
	}
	return eventually(func() error {
		list := &networkingv1.NetworkPolicyList{}
		if err := admin.List(ctx, list); err != nil {
			return err
		}
		// Four per tenant (default deny, DNS, ingress allowances, metrics scrape) and one per
		// Integration.
		if want := 2*4 + len(integrations); len(list.Items) != want {
			return fmt.Errorf("%d NetworkPolicies, want %d", len(list.Items), want)
		}
		return nil
	})
}

func tenantFor(name string) *twv1.Tenant {
	return &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: twv1.TenantSpec{
		DisplayName: name,
		Admins:      []twv1.Subject{{Kind: twv1.SubjectGroup, Name: "oidc:" + name + "-admins"}},
		Viewers:     []twv1.Subject{{Kind: twv1.SubjectGroup, Name: "oidc:" + name + "-staff"}},
		SecretStore: &twv1.TenantSecretStore{Kind: "ClusterSecretStore", Name: "vault", PathPrefix: "tenants/" + name + "/"},
		Networking: twv1.TenantNetworking{AllowIngressFrom: []twv1.NamespaceIngress{
			{Namespace: ingressNS, Ports: []twv1.NetworkPort{{Port: 8443, Protocol: "TCP"}}},
			{Namespace: monitoringNS, Ports: []twv1.NetworkPort{{Port: 9090, Protocol: "TCP"}}},
		}},
	}}
}

func integrationFor(ns, name string, source twv1.System, cidr string, keyringConsumer bool) *twv1.Integration {
	in := &twv1.Integration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: twv1.IntegrationSpec{
		Source: twv1.Endpoint{System: source, URL: "https://" + name + ".md-hq.com", // a Cerbo practice host the default allowlist holds
			Credentials: twv1.Credentials{RemoteKey: name + "/source"}},
		Destination: twv1.Endpoint{System: twv1.SystemQuickBooks, URL: "https://quickbooks.api.intuit.com",
			Credentials: twv1.Credentials{RemoteKey: name + "/destination"}},
		State:  twv1.StateRunning,
		Egress: []twv1.EgressRule{{CIDR: cidr}},
	}}
	if keyringConsumer {
		in.Labels = map[string]string{keyringConsumerLabel: "true"}
	}
	return in
}

// playExternalSecretsOperator does what ESO would for the Integration's ExternalSecrets (no ESO
// runs here): it writes each target Secret with the template's labels and marks it synced.
func playExternalSecretsOperator(in *twv1.Integration) error {
	for _, side := range []string{"source", "destination"} {
		key := client.ObjectKey{Namespace: in.Namespace, Name: credentialSecret(in.Name, side)}
		es := &esv1.ExternalSecret{}
		if err := eventually(func() error { return admin.Get(ctx, key, es) }); err != nil {
			return err
		}
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name,
			Labels: es.Spec.Target.Template.Metadata.Labels}, Data: map[string][]byte{"token": []byte("not-a-real-credential")}}
		if err := admin.Create(ctx, secret); err != nil {
			return err
		}
		es.Status.Conditions = []esv1.ExternalSecretStatusCondition{{Type: esv1.ExternalSecretReady, Status: corev1.ConditionTrue,
			Reason: esv1.ConditionReasonSecretSynced, LastTransitionTime: metav1.Now()}}
		if err := admin.Status().Update(ctx, es); err != nil {
			return err
		}
	}
	return nil
}

func tenantReady(name string) error {
	tn := &twv1.Tenant{}
	if err := admin.Get(ctx, client.ObjectKey{Name: name}, tn); err != nil {
		return err
	}
	if c := conditions.Get(tn.Status.Conditions, twv1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
		return fmt.Errorf("not Ready: %+v", tn.Status.Conditions)
	}
	return nil
}

// keyringReadable is nil once the tenant's keyring exists and its reader binding names exactly the
// consumer's ServiceAccount.
func keyringReadable(ns string) error {
	if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: keyring.SecretName}, &corev1.Secret{}); err != nil {
		return err
	}
	rb := &rbacv1.RoleBinding{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tenantwire-keyring-reader"}, rb); err != nil {
		return err
	}
	var names []string
	for _, s := range rb.Subjects {
		names = append(names, s.Namespace+"/"+s.Name)
	}
	if want := []string{ns + "/" + syncServiceAccount(records)}; !slices.Equal(names, want) {
		return fmt.Errorf("keyring readers %v, want %v", names, want)
	}
	return nil
}

func credentialSecret(integration, side string) string {
	return integration + "-" + side + "-credentials"
}
func syncServiceAccount(integration string) string { return integration + "-sync" }
func syncDeploymentKey(ns, integration string) client.ObjectKey {
	return client.ObjectKey{Namespace: ns, Name: syncServiceAccount(integration)}
}

// eventually polls cond until it returns nil or fixtureTimeout passes, and returns its last error.
func eventually(cond func() error) error {
	deadline := time.Now().Add(fixtureTimeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
