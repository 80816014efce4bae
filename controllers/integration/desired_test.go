package integration

import (
	"strings"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/imagepolicy"
	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
)

func sampleTenant() *twv1.Tenant {
	return &twv1.Tenant{
		ObjectMeta: metav1.ObjectMeta{Name: "acme"},
		Spec: twv1.TenantSpec{
			DisplayName: "Acme",
			SecretStore: &twv1.TenantSecretStore{Kind: "ClusterSecretStore", Name: "vault", PathPrefix: "tenants/acme/"},
			Networking:  twv1.TenantNetworking{AllowIngressFrom: []twv1.NamespaceIngress{{Namespace: "ingress-nginx"}}},
		},
	}
}

func sampleIntegration(mut ...func(*twv1.Integration)) *twv1.Integration {
	in := &twv1.Integration{
		ObjectMeta: metav1.ObjectMeta{Name: "cerbo-qb", Namespace: "tenant-acme", UID: types.UID("uid-1"), Generation: 2},
		Spec: twv1.IntegrationSpec{
			Source: twv1.Endpoint{System: twv1.SystemCerbo, URL: "https://acme.md-hq.com/api/v1",
				Credentials: twv1.Credentials{RemoteKey: "cerbo/api", Properties: []string{"username", "api_key"}}},
			Destination: twv1.Endpoint{System: twv1.SystemQuickBooks, URL: "https://quickbooks.api.intuit.com",
				Credentials: twv1.Credentials{RemoteKey: "quickbooks/oauth"}},
			State:  twv1.StateRunning,
			Egress: []twv1.EgressRule{{CIDR: "203.0.113.0/24"}, {CIDR: "198.51.100.7/32", Ports: []int32{443, 8443}}},
		},
	}
	for _, m := range mut {
		m(in)
	}
	return in
}

func sampleInputs() inputs {
	return inputs{tenant: sampleTenant(), syncImage: "tenantwire:test", credentialsHash: "abc"}
}

func allChildren(t *testing.T, in *twv1.Integration) []client.Object {
	t.Helper()
	ip := sampleInputs()
	cm, err := desiredConfigMap(in, ip)
	if err != nil {
		t.Fatal(err)
	}
	return []client.Object{
		desiredServiceAccount(in, ip), desiredReaderRole(in, ip), desiredReaderRoleBinding(in, ip), cm,
		desiredEgressPolicy(in, ip), desiredExternalSecret(in, ip, sourceSide), desiredExternalSecret(in, ip, destinationSide),
		desiredDeployment(in, ip, cm),
		desiredTokenWriterServiceAccount(in, ip), desiredRotatedTokenSecret(in, ip), desiredTokenWriterRole(in, ip),
		desiredTokenWriterRoleBinding(in, ip), desiredRotatedTokenPushSecret(in, ip),
	}
}

func TestChildrenAreLabelledAndOwned(t *testing.T) {
	for _, c := range allChildren(t, sampleIntegration()) {
		name := c.GetObjectKind().GroupVersionKind().Kind + "/" + c.GetName()
		if c.GetNamespace() != "tenant-acme" {
			t.Errorf("%s: namespace %q", name, c.GetNamespace())
		}
		l := c.GetLabels()
		if l[labels.ManagedBy] != labels.ManagedByValue || l[labels.Tenant] != "acme" || l[labels.Integration] != "cerbo-qb" {
			t.Errorf("%s: labels %v", name, l)
		}
		ref := metav1.GetControllerOf(c)
		if ref == nil || ref.Kind != "Integration" || ref.Name != "cerbo-qb" {
			t.Errorf("%s: controller ref %+v", name, ref)
		}
	}
}

func TestDesiredExternalSecret(t *testing.T) {
	in := sampleIntegration()
	src := desiredExternalSecret(in, sampleInputs(), sourceSide)
	if src.Spec.SecretStoreRef.Name != "vault" || src.Spec.SecretStoreRef.Kind != "ClusterSecretStore" {
		t.Errorf("store ref = %+v", src.Spec.SecretStoreRef)
	}
	if src.Spec.Target.Name != "cerbo-qb-source-credentials" || src.Spec.Target.CreationPolicy != esv1.CreatePolicyOwner {
		t.Errorf("target = %+v", src.Spec.Target)
	}
	if got := src.Spec.Target.Template.Metadata.Labels[labels.Integration]; got != "cerbo-qb" {
		t.Errorf("target Secret is not labelled for the operator's cache: %v", src.Spec.Target.Template.Metadata.Labels)
	}
	if len(src.Spec.Data) != 2 || src.Spec.Data[0].SecretKey != "username" || src.Spec.Data[0].RemoteRef.Key != "tenants/acme/cerbo/api" ||
		src.Spec.Data[0].RemoteRef.Property != "username" || len(src.Spec.DataFrom) != 0 {
		t.Errorf("source data = %+v dataFrom = %+v", src.Spec.Data, src.Spec.DataFrom)
	}
	dst := desiredExternalSecret(in, sampleInputs(), destinationSide)
	if len(dst.Spec.Data) != 0 || len(dst.Spec.DataFrom) != 1 || dst.Spec.DataFrom[0].Extract.Key != "tenants/acme/quickbooks/oauth" {
		t.Errorf("destination without properties must extract the whole key: data=%+v dataFrom=%+v", dst.Spec.Data, dst.Spec.DataFrom)
	}
}

func TestRefreshIntervalIsJitteredStablyWithinATenth(t *testing.T) {
	seen := map[time.Duration]bool{}
	for i := range 50 {
		in := sampleIntegration(func(in *twv1.Integration) { in.Name = "intg-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) })
		d := refreshInterval(in)
		if d < time.Hour || d >= time.Hour+6*time.Minute {
			t.Fatalf("%s: refresh %s outside [1h, 1h6m)", in.Name, d)
		}
		if again := refreshInterval(in); again != d {
			t.Fatalf("%s: refresh not stable: %s then %s", in.Name, d, again)
		}
		seen[d] = true
	}
	if len(seen) < 25 {
		t.Errorf("only %d distinct refresh intervals for 50 integrations: not spread", len(seen))
	}
	custom := sampleIntegration(func(in *twv1.Integration) {
		in.Spec.CredentialsRefreshInterval = &metav1.Duration{Duration: 10 * time.Minute}
	})
	if d := refreshInterval(custom); d < 10*time.Minute || d >= 11*time.Minute {
		t.Errorf("custom refresh = %s, want within [10m, 11m)", d)
	}
}

func TestWithinPrefix(t *testing.T) {
	tests := map[string]struct {
		prefix, key string
		want        bool
	}{
		"relative key":              {prefix: "tenants/acme/", key: "cerbo/api", want: true},
		"prefix without slash":      {prefix: "tenants/acme", key: "cerbo/api", want: true},
		"key climbing out":          {prefix: "tenants/acme/", key: "cerbo/../../other/api"},
		"key resolving to the root": {prefix: "tenants/acme/", key: "."},
		"sibling tenant prefix":     {prefix: "tenants/acme", key: "../acme-evil/api"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := withinPrefix(tc.prefix, tc.key); got != tc.want {
				t.Errorf("withinPrefix(%q, %q) = %v, want %v (resolved %q)", tc.prefix, tc.key, got, tc.want, remotePath(tc.prefix, tc.key))
			}
		})
	}
}

func TestDesiredConfigMap(t *testing.T) {
	tests := map[string]struct {
		schedule *twv1.Schedule
		want     syncconfig.Schedule
	}{
		"default every five minutes": {want: syncconfig.Schedule{Interval: "5m0s"}},
		"interval":                   {schedule: &twv1.Schedule{Interval: &metav1.Duration{Duration: time.Minute}}, want: syncconfig.Schedule{Interval: "1m0s"}},
		"cron":                       {schedule: &twv1.Schedule{Cron: "*/15 * * * *"}, want: syncconfig.Schedule{Cron: "*/15 * * * *"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cm, err := desiredConfigMap(sampleIntegration(func(in *twv1.Integration) { in.Spec.Schedule = tc.schedule }), sampleInputs())
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := syncconfig.Unmarshal([]byte(cm.Data[syncconfig.FileName]))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Schedule != tc.want {
				t.Errorf("schedule = %+v, want %+v", cfg.Schedule, tc.want)
			}
			if cfg.TLS.MinVersion != "1.2" || cfg.Tenant != "acme" || cfg.Source.System != "cerbo" ||
				cfg.Destination.CredentialsDir != "/var/run/tenantwire/credentials/destination" {
				t.Errorf("config = %+v", cfg)
			}
			if strings.Contains(cm.Data[syncconfig.FileName], "tenants/acme") {
				t.Error("the config names vault paths; it should only name mounted files")
			}
		})
	}
}

func TestDesiredReaderRoleNamesOnlyThisIntegrationsSecrets(t *testing.T) {
	r := desiredReaderRole(sampleIntegration(), sampleInputs())
	if len(r.Rules) != 1 {
		t.Fatalf("rules = %+v", r.Rules)
	}
	rule := r.Rules[0]
	if strings.Join(rule.Verbs, ",") != "get" || strings.Join(rule.Resources, ",") != "secrets" ||
		strings.Join(rule.ResourceNames, ",") != "cerbo-qb-source-credentials,cerbo-qb-destination-credentials" {
		t.Errorf("rule = %+v", rule)
	}
}

func TestDesiredEgressPolicy(t *testing.T) {
	tests := map[string]struct {
		in          *twv1.Integration
		wantTypes   string
		wantIngress int
	}{
		"egress only":            {in: sampleIntegration(), wantTypes: "Egress"},
		"inbound webhook source": {in: sampleIntegration(func(in *twv1.Integration) { in.Spec.Source.System = twv1.SystemWebhook }), wantTypes: "Egress,Ingress", wantIngress: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := desiredEgressPolicy(tc.in, sampleInputs())
			var types []string
			for _, pt := range p.Spec.PolicyTypes {
				types = append(types, string(pt))
			}
			if got := strings.Join(types, ","); got != tc.wantTypes {
				t.Errorf("policy types = %s, want %s", got, tc.wantTypes)
			}
			if len(p.Spec.Ingress) != tc.wantIngress {
				t.Errorf("ingress = %+v", p.Spec.Ingress)
			}
			if p.Spec.PodSelector.MatchLabels[labels.Integration] != "cerbo-qb" {
				t.Errorf("pod selector = %v", p.Spec.PodSelector)
			}
			if len(p.Spec.Egress) != 2 {
				t.Fatalf("egress = %+v", p.Spec.Egress)
			}
			assertRule(t, p.Spec.Egress[0], "203.0.113.0/24", 443)
			assertRule(t, p.Spec.Egress[1], "198.51.100.7/32", 443, 8443)
		})
	}
}

func assertRule(t *testing.T, r networkingv1.NetworkPolicyEgressRule, cidr string, ports ...int) {
	t.Helper()
	if len(r.To) != 1 || r.To[0].IPBlock == nil || r.To[0].IPBlock.CIDR != cidr {
		t.Errorf("rule to = %+v, want %s", r.To, cidr)
	}
	if len(r.Ports) != len(ports) {
		t.Fatalf("ports = %+v, want %v", r.Ports, ports)
	}
	for i, p := range ports {
		if r.Ports[i].Port.IntValue() != p || *r.Ports[i].Protocol != corev1.ProtocolTCP {
			t.Errorf("port %d = %+v, want TCP %d", i, r.Ports[i], p)
		}
	}
}

func TestDesiredDeployment(t *testing.T) {
	tests := map[string]struct {
		mut          func(*twv1.Integration)
		wantReplicas int32
		wantImage    string
	}{
		"running":        {wantReplicas: 1, wantImage: "tenantwire:test"},
		"running with 0": {mut: func(in *twv1.Integration) { in.Spec.Replicas = ptr.To[int32](0) }, wantReplicas: 0, wantImage: "tenantwire:test"},
		"paused is zero": {mut: func(in *twv1.Integration) { in.Spec.State = twv1.StatePaused; in.Spec.Replicas = ptr.To[int32](1) }, wantImage: "tenantwire:test"},
		"own image":      {mut: func(in *twv1.Integration) { in.Spec.Image = "registry.example/sync:1" }, wantReplicas: 1, wantImage: "registry.example/sync:1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := sampleIntegration()
			if tc.mut != nil {
				tc.mut(in)
			}
			ip := sampleInputs()
			cm, _ := desiredConfigMap(in, ip)
			d := desiredDeployment(in, ip, cm)
			if *d.Spec.Replicas != tc.wantReplicas {
				t.Errorf("replicas = %d, want %d", *d.Spec.Replicas, tc.wantReplicas)
			}
			pod := d.Spec.Template.Spec
			c := pod.Containers[0]
			if c.Image != tc.wantImage {
				t.Errorf("image = %s, want %s", c.Image, tc.wantImage)
			}
			assertRestricted(t, pod)
			if len(c.Env) != 0 || len(c.EnvFrom) != 0 {
				t.Error("credentials must arrive as files, not environment variables")
			}
			for _, v := range c.VolumeMounts {
				if strings.Contains(v.Name, "credentials") && !v.ReadOnly {
					t.Errorf("credentials mount %s is writable", v.Name)
				}
			}
			if d.Spec.Template.Annotations[CredentialsHashAnnotation] != "abc" || d.Spec.Template.Annotations[ConfigHashAnnotation] == "" {
				t.Errorf("template annotations = %v", d.Spec.Template.Annotations)
			}
			if c.ReadinessProbe == nil || c.LivenessProbe == nil {
				t.Error("probes missing")
			}
		})
	}
}

func TestDesiredDeploymentMountsTheKeyringOnlyForConsumers(t *testing.T) {
	for name, version := range map[string]string{"consumer": "7", "not a consumer": ""} {
		t.Run(name, func(t *testing.T) {
			in := sampleIntegration()
			ip := sampleInputs()
			ip.keyringVersion = version
			cm, _ := desiredConfigMap(in, ip)
			d := desiredDeployment(in, ip, cm)
			mounted := false
			for _, m := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
				if m.Name == "keyring" {
					mounted = true
					if !m.ReadOnly || m.MountPath != syncconfig.KeyringDir {
						t.Errorf("keyring mount = %+v", m)
					}
				}
			}
			if mounted != (version != "") || d.Spec.Template.Annotations[KeyringVersionAnnotation] != version {
				t.Errorf("mounted=%v annotation=%q for version %q", mounted, d.Spec.Template.Annotations[KeyringVersionAnnotation], version)
			}
			cfg, _ := syncconfig.Unmarshal([]byte(cm.Data[syncconfig.FileName]))
			if (cfg.KeyringFile != "") != (version != "") {
				t.Errorf("config keyringFile = %q", cfg.KeyringFile)
			}
		})
	}
	// A new active version changes the pod template (one roll); the same version does not.
	in, ip := sampleIntegration(), sampleInputs()
	ip.keyringVersion = "7"
	cm, _ := desiredConfigMap(in, ip)
	a := desiredDeployment(in, ip, cm)
	ip.keyringVersion = "8"
	b := desiredDeployment(in, ip, cm)
	if a.Spec.Template.Annotations[KeyringVersionAnnotation] == b.Spec.Template.Annotations[KeyringVersionAnnotation] {
		t.Error("a key rotation would not roll the pods")
	}
}

func assertRestricted(t *testing.T, pod corev1.PodSpec) {
	t.Helper()
	psc := pod.SecurityContext
	if psc == nil || !ptr.Deref(psc.RunAsNonRoot, false) || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context = %+v", psc)
	}
	if ptr.Deref(pod.AutomountServiceAccountToken, true) {
		t.Error("service account token is mounted")
	}
	sc := pod.Containers[0].SecurityContext
	if sc == nil || ptr.Deref(sc.AllowPrivilegeEscalation, true) || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container security context = %+v", sc)
	}
}

func TestValidateImage(t *testing.T) {
	allowed, err := imagepolicy.ParseAllowList([]string{"registry.internal/tenantwire/", "registry.example.com", "localhost:5000/x"})
	if err != nil {
		t.Fatal(err)
	}
	rules := specRules{syncImage: "ghcr.io/tenantwire/tenantwire:v1", allowedImages: allowed}
	tests := map[string]struct {
		image   string
		allowed bool
	}{
		"default":                       {allowed: true},
		"the operator's own image":      {image: "ghcr.io/tenantwire/tenantwire:v1", allowed: true},
		"under an allowed prefix":       {image: "registry.internal/tenantwire/sync:2", allowed: true},
		"another tag of the same repo":  {image: "ghcr.io/tenantwire/tenantwire:evil"},
		"anything else":                 {image: "docker.io/attacker/exfiltrate:latest"},
		"prefix without its trailing /": {image: "registry.internal/tenantwire-evil/sync:1"},
		// The bypasses of a string prefix: a sibling repository, and a host that merely starts
		// with an allowed registry's name.
		"sibling repository":               {image: "localhost:5000/x-debug:1"},
		"look-alike registry host":         {image: "registry.example.com.evil.io/x:1"},
		"an allowed registry":              {image: "registry.example.com/any/sync@sha256:" + strings.Repeat("0", 64), allowed: true},
		"not an image reference":           {image: "registry.internal/tenantwire/Sync:1"},
		"an allowed repository, by digest": {image: "localhost:5000/x@sha256:" + strings.Repeat("1", 64), allowed: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := sampleIntegration(func(in *twv1.Integration) { in.Spec.Image = tc.image })
			p := validateImage(specInput{in: in, rules: rules})
			if (p == nil) != tc.allowed {
				t.Errorf("validateImage(%q) = %+v, want allowed=%v", tc.image, p, tc.allowed)
			}
			if p != nil && (p.Reason != twv1.ReasonImageNotAllowed || !p.Stalled) {
				t.Errorf("problem = %+v", p)
			}
		})
	}
}
