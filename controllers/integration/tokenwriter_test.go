package integration

import (
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"

	esv1alpha1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
)

func TestRotatingSides(t *testing.T) {
	for name, tc := range map[string]struct {
		source, destination twv1.System
		want                []side
	}{
		"cerbo to quickbooks":       {twv1.SystemCerbo, twv1.SystemQuickBooks, []side{destinationSide}},
		"cerbo to gohighlevel":      {twv1.SystemCerbo, twv1.SystemGoHighLevel, []side{destinationSide}},
		"quickbooks to gohighlevel": {twv1.SystemQuickBooks, twv1.SystemGoHighLevel, []side{sourceSide, destinationSide}},
		// Zoho's refresh tokens do not rotate; Cerbo and webhooks use none.
		"cerbo to zoho":   {twv1.SystemCerbo, twv1.SystemZoho, nil},
		"webhook to zoho": {twv1.SystemWebhook, twv1.SystemZoho, nil},
	} {
		t.Run(name, func(t *testing.T) {
			in := sampleIntegration(func(in *twv1.Integration) {
				in.Spec.Source.System, in.Spec.Destination.System = tc.source, tc.destination
			})
			if got := rotatingSides(in); !slices.Equal(got, tc.want) {
				t.Errorf("rotatingSides = %v, want %v", got, tc.want)
			}
			if cfg := tokenWriterConfig(in); (cfg != nil) != (len(tc.want) > 0) {
				t.Errorf("tokenWriterConfig = %+v with rotating sides %v", cfg, tc.want)
			}
		})
	}
}

// TestTokenWriterRoleMayOnlyPatchItsSecret: the Role is the whole reach of a compromised sync
// pod: patch, on one Secret, by name.
func TestTokenWriterRoleMayOnlyPatchItsSecret(t *testing.T) {
	in := sampleIntegration()
	want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"patch"},
		ResourceNames: []string{"cerbo-qb-rotated-token"}}}
	if got := desiredTokenWriterRole(in, sampleInputs()).Rules; !reflect.DeepEqual(got, want) {
		t.Errorf("rules = %+v, want %+v", got, want)
	}
	rb := desiredTokenWriterRoleBinding(in, sampleInputs())
	if rb.RoleRef.Name != "cerbo-qb-token-writer" || len(rb.Subjects) != 1 || rb.Subjects[0].Name != "cerbo-qb-token-writer" ||
		rb.Subjects[0].Namespace != "tenant-acme" {
		t.Errorf("binding = %+v", rb)
	}
	if sa := desiredTokenWriterServiceAccount(in, sampleInputs()); sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Errorf("the token writer automounts its token")
	}
	if s := desiredRotatedTokenSecret(in, sampleInputs()); len(s.Data) != 0 || len(s.StringData) != 0 {
		t.Errorf("the operator writes data into the rotated-token Secret")
	}
}

func TestDesiredRotatedTokenPushSecret(t *testing.T) {
	in := sampleIntegration(func(in *twv1.Integration) {
		in.Spec.Source = twv1.Endpoint{System: twv1.SystemQuickBooks, URL: "https://quickbooks.api.intuit.com",
			Credentials: twv1.Credentials{RemoteKey: "quickbooks/oauth"}}
		in.Spec.Destination = twv1.Endpoint{System: twv1.SystemGoHighLevel, URL: "https://services.leadconnectorhq.com",
			Credentials: twv1.Credentials{RemoteKey: "ghl/oauth", Properties: []string{"client_id", "client_secret", "refresh_token", "location_id"}}}
	})
	ps := desiredRotatedTokenPushSecret(in, sampleInputs())
	spec := ps.Spec
	if spec.UpdatePolicy != esv1alpha1.PushSecretUpdatePolicyReplace || spec.DeletionPolicy != esv1alpha1.PushSecretDeletionPolicyNone {
		t.Errorf("policies = %s/%s", spec.UpdatePolicy, spec.DeletionPolicy)
	}
	if spec.Selector.Secret == nil || spec.Selector.Secret.Name != "cerbo-qb-rotated-token" || spec.Selector.Secret.Selector != nil ||
		spec.Selector.GeneratorRef != nil || spec.Template != nil {
		t.Errorf("selector = %+v template = %+v", spec.Selector, spec.Template)
	}
	if !reflect.DeepEqual(spec.SecretStoreRefs, []esv1alpha1.PushSecretStoreRef{{Name: "vault", Kind: "ClusterSecretStore"}}) {
		t.Errorf("store refs = %+v", spec.SecretStoreRefs)
	}
	want := []esv1alpha1.PushSecretData{
		{Match: esv1alpha1.PushSecretMatch{SecretKey: "source.refresh_token",
			RemoteRef: esv1alpha1.PushSecretRemoteRef{RemoteKey: "tenants/acme/quickbooks/oauth", Property: "refresh_token"}}},
		{Match: esv1alpha1.PushSecretMatch{SecretKey: "destination.refresh_token",
			RemoteRef: esv1alpha1.PushSecretRemoteRef{RemoteKey: "tenants/acme/ghl/oauth", Property: "refresh_token"}}},
	}
	if !reflect.DeepEqual(spec.Data, want) {
		t.Errorf("data = %+v, want %+v", spec.Data, want)
	}
}

// TestSyncPodRunsAsTheTokenWriterWithAProjectedToken: an Integration with a rotating side runs
// as the token writer, with a short-lived projected token and still no automounted one; any other
// runs as its sync ServiceAccount without any token.
func TestSyncPodRunsAsTheTokenWriterWithAProjectedToken(t *testing.T) {
	for name, tc := range map[string]struct {
		destination twv1.System
		wantSA      string
		wantToken   bool
	}{
		"quickbooks": {twv1.SystemQuickBooks, "cerbo-qb-token-writer", true},
		"zoho":       {twv1.SystemZoho, "cerbo-qb-sync", false},
	} {
		t.Run(name, func(t *testing.T) {
			in := sampleIntegration(func(in *twv1.Integration) { in.Spec.Destination.System = tc.destination })
			cm, err := desiredConfigMap(in, sampleInputs())
			if err != nil {
				t.Fatal(err)
			}
			pod := desiredDeployment(in, sampleInputs(), cm).Spec.Template.Spec
			if pod.ServiceAccountName != tc.wantSA || pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
				t.Errorf("serviceAccountName %q automount %v", pod.ServiceAccountName, pod.AutomountServiceAccountToken)
			}
			var projected []corev1.VolumeProjection
			for _, v := range pod.Volumes {
				if v.Projected != nil {
					projected = append(projected, v.Projected.Sources...)
				}
			}
			if !tc.wantToken {
				if len(projected) != 0 {
					t.Errorf("projected sources %+v on a pod that writes no token", projected)
				}
				return
			}
			var token *corev1.ServiceAccountTokenProjection
			for _, p := range projected {
				if p.ServiceAccountToken != nil {
					token = p.ServiceAccountToken
				}
			}
			if token == nil || token.ExpirationSeconds == nil || *token.ExpirationSeconds != 600 || token.Path != syncconfig.TokenWriterTokenFile {
				t.Fatalf("projected token = %+v", token)
			}
			cfg, err := syncconfig.Unmarshal([]byte(cm.Data[syncconfig.FileName]))
			if err != nil {
				t.Fatal(err)
			}
			if tw := cfg.TokenWriter; tw == nil || tw.Secret != "cerbo-qb-rotated-token" || tw.Namespace != "tenant-acme" ||
				!slices.Equal(tw.Sides, []string{"destination"}) || path.Join(tw.Dir, token.Path) != path.Join(syncconfig.TokenWriterDir, "token") {
				t.Errorf("sync.yaml tokenWriter = %+v", tw)
			}
			for _, c := range pod.Containers {
				if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == syncconfig.TokenWriterDir && m.ReadOnly }) {
					t.Errorf("container %s does not mount the token writer's directory read-only", c.Name)
				}
			}
		})
	}
}

func TestParseAPIServerEgress(t *testing.T) {
	got, err := ParseAPIServerEgress([]string{"172.18.0.2/32:6443", "10.96.0.1/24:443", "fd00::1/128:6443"})
	if err != nil {
		t.Fatal(err)
	}
	want := []APIServerEndpoint{{"172.18.0.2/32", 6443}, {"10.96.0.0/24", 443}, {"fd00::1/128", 6443}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsed %+v, want %+v", got, want)
	}
	for _, bad := range []string{"172.18.0.2:6443", "172.18.0.2/32", "172.18.0.2/32:0", "172.18.0.2/32:70000", "api.example:443"} {
		if _, err := ParseAPIServerEgress([]string{bad}); err == nil || !strings.Contains(err.Error(), "--api-server-egress") {
			t.Errorf("%q: err = %v, want one naming --api-server-egress", bad, err)
		}
	}
}

// TestOnlyATokenWriterReachesTheAPIServer: --api-server-egress opens the API server to the sync
// pods of an Integration whose vendor rotates refresh tokens, on the given port, and to no other.
func TestOnlyATokenWriterReachesTheAPIServer(t *testing.T) {
	ip := sampleInputs()
	ip.apiServer = []APIServerEndpoint{{CIDR: "172.18.0.2/32", Port: 6443}}
	reaches := func(in *twv1.Integration) bool {
		for _, r := range desiredEgressPolicy(in, ip).Spec.Egress {
			for _, to := range r.To {
				if to.IPBlock != nil && to.IPBlock.CIDR == "172.18.0.2/32" {
					if len(r.Ports) != 1 || r.Ports[0].Port.IntValue() != 6443 {
						t.Errorf("API server rule ports = %+v", r.Ports)
					}
					return true
				}
			}
		}
		return false
	}
	if !reaches(sampleIntegration()) {
		t.Error("a QuickBooks Integration's pods do not reach the API server")
	}
	if reaches(sampleIntegration(func(in *twv1.Integration) { in.Spec.Destination.System = twv1.SystemZoho })) {
		t.Error("a Zoho Integration's pods reach the API server")
	}
	ip.apiServer = nil
	if reaches(sampleIntegration()) {
		t.Error("the API server is reachable without --api-server-egress")
	}
}
