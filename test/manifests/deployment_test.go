package manifests

import (
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/tenantwire/tenantwire/controllers/tenant"
	"github.com/tenantwire/tenantwire/internal/manager"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// managerPod renders the chart and returns the manager's pod spec and its flags as the binary
// parses them.
func managerPod(t *testing.T, extra ...string) (map[string]any, manager.Options) {
	t.Helper()
	d := find(decodeAll(t, helmTemplate(t, kustomizeNamespace, extra...)), "Deployment", "tenantwire-manager")
	if d == nil {
		t.Fatal("no Deployment tenantwire-manager")
	}
	spec, _, _ := unstructured.NestedMap(d.Object, "spec", "template", "spec")
	containers, _ := spec["containers"].([]any)
	args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	fs := flag.NewFlagSet("tenantwire manager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o manager.Options
	o.BindFlags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		t.Fatalf("the manager refuses the chart's flags %q: %v", args, err)
	}
	return spec, o
}

// image.digest pins the manager and the sync workloads to one digest, whatever the tag says.
func TestChartImageDigestWinsOverTag(t *testing.T) {
	tests := map[string]struct {
		extra []string
		want  string
	}{
		"tag":            {extra: []string{"--set", "image.tag=v0.2.0"}, want: "tenantwire:v0.2.0"},
		"digest":         {extra: []string{"--set", "image.digest=" + testDigest}, want: "tenantwire@" + testDigest},
		"digest and tag": {extra: []string{"--set", "image.tag=v0.2.0", "--set", "image.digest=" + testDigest}, want: "tenantwire@" + testDigest},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec, o := managerPod(t, tc.extra...)
			if got := spec["containers"].([]any)[0].(map[string]any)["image"]; got != tc.want {
				t.Errorf("manager image %v, want %s", got, tc.want)
			}
			if o.SyncImage != tc.want {
				t.Errorf("--sync-image %s, want %s", o.SyncImage, tc.want)
			}
		})
	}
}

// imagePullSecrets reach the manager pod and, through --sync-image-pull-secrets, every sync pod
// and export Job; the scraper values become the flags the tenant NetworkPolicies are built from.
func TestChartPullSecretsAndScraperReachTheManager(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		spec, o := managerPod(t)
		if spec["imagePullSecrets"] != nil || o.SyncImagePullSecrets != nil {
			t.Errorf("pull secrets by default: pod %v, flag %q", spec["imagePullSecrets"], o.SyncImagePullSecrets)
		}
		if s, err := o.ParseMetricsScraper(); err != nil || s != nil {
			t.Errorf("metrics scraper by default: %+v, %v", s, err)
		}
	})
	t.Run("options", func(t *testing.T) {
		spec, o := managerPod(t, "--values", optionsValues, "--set", "imagePullSecrets[1].name=mirror")
		want := []any{map[string]any{"name": "registry-credentials"}, map[string]any{"name": "mirror"}}
		if !reflect.DeepEqual(spec["imagePullSecrets"], want) {
			t.Errorf("manager pod imagePullSecrets %v, want %v", spec["imagePullSecrets"], want)
		}
		if got := strings.Join(o.SyncImagePullSecrets, ","); got != "registry-credentials,mirror" {
			t.Errorf("--sync-image-pull-secrets %q, want registry-credentials,mirror", got)
		}
		s, err := o.ParseMetricsScraper()
		if err != nil {
			t.Fatal(err)
		}
		if want := (&tenant.MetricsScraper{Namespace: "monitoring", PodSelector: map[string]string{"app.kubernetes.io/name": "prometheus"}}); !reflect.DeepEqual(s, want) {
			t.Errorf("metrics scraper %+v, want %+v", s, want)
		}
	})
}

// With a serving certificate for the metrics endpoint, the manager serves it (--metrics-cert-dir
// on the mounted Secret) and the ServiceMonitor verifies it; only a self-signed endpoint is
// scraped without verification.
func TestChartMetricsCertificate(t *testing.T) {
	tests := map[string]struct {
		extra       []string
		wantCertDir string
		wantTLS     map[string]any
	}{
		"self-signed": {
			wantTLS: map[string]any{"insecureSkipVerify": true},
		},
		"certificate Secret": {
			extra:       []string{"--set", "metrics.certificate.secretName=metrics-tls"},
			wantCertDir: "/etc/tenantwire/metrics-certs",
			wantTLS: map[string]any{"ca": map[string]any{"secret": map[string]any{"name": "metrics-tls", "key": "ca.crt"}},
				"serverName": "tenantwire-metrics." + kustomizeNamespace + ".svc"},
		},
		"tlsConfig set by hand": {
			extra:       []string{"--set", "metrics.certificate.secretName=metrics-tls", "--set", "serviceMonitor.tlsConfig.serverName=metrics.example"},
			wantCertDir: "/etc/tenantwire/metrics-certs",
			wantTLS:     map[string]any{"serverName": "metrics.example"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			extra := append([]string{"--set", "serviceMonitor.enabled=true"}, tc.extra...)
			spec, o := managerPod(t, extra...)
			if o.MetricsCertDir != tc.wantCertDir {
				t.Errorf("--metrics-cert-dir %q, want %q", o.MetricsCertDir, tc.wantCertDir)
			}
			if tc.wantCertDir != "" {
				volumes, _ := spec["volumes"].([]any)
				mounts, _, _ := unstructured.NestedSlice(spec["containers"].([]any)[0].(map[string]any), "volumeMounts")
				if len(volumes) != 1 || len(mounts) != 1 || mounts[0].(map[string]any)["mountPath"] != tc.wantCertDir {
					t.Errorf("volumes %v, mounts %v: want the certificate Secret at %s", volumes, mounts, tc.wantCertDir)
				}
			}
			sm := find(decodeAll(t, helmTemplate(t, kustomizeNamespace, extra...)), "ServiceMonitor", "tenantwire-manager")
			if sm == nil {
				t.Fatal("no ServiceMonitor")
			}
			endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
			if got := endpoints[0].(map[string]any)["tlsConfig"]; !reflect.DeepEqual(got, tc.wantTLS) {
				t.Errorf("tlsConfig %v, want %v", got, tc.wantTLS)
			}
		})
	}
}
