package manager

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantwire/tenantwire/controllers/tenant"
)

func TestSyncImagePullSecretsFlag(t *testing.T) {
	o, err := parseManagerFlags("--sync-image-pull-secrets", " registry-credentials, ,mirror.example")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"registry-credentials", "mirror.example"}; !reflect.DeepEqual(o.SyncImagePullSecrets, want) {
		t.Errorf("pull secrets = %q, want %q", o.SyncImagePullSecrets, want)
	}
	// A name no Secret can have stops the manager at start-up, naming it.
	if _, err := parseManagerFlags("--sync-image-pull-secrets", "ok,Registry_Creds"); err == nil || !strings.Contains(err.Error(), `"Registry_Creds" is not a Secret name`) {
		t.Errorf("error = %v, want one naming Registry_Creds", err)
	}
}

func TestSyncMetricsScraperFlags(t *testing.T) {
	tests := map[string]struct {
		args    []string
		want    *tenant.MetricsScraper
		wantErr string
	}{
		"unset: no scraper": {},
		"namespace": {
			args: []string{"--sync-metrics-scraper-namespace=monitoring"},
			want: &tenant.MetricsScraper{Namespace: "monitoring"},
		},
		"namespace and pods": {
			args: []string{"--sync-metrics-scraper-namespace=monitoring", "--sync-metrics-scraper-pod-selector=app.kubernetes.io/name=prometheus"},
			want: &tenant.MetricsScraper{Namespace: "monitoring", PodSelector: map[string]string{"app.kubernetes.io/name": "prometheus"}},
		},
		"pods without a namespace": {
			args:    []string{"--sync-metrics-scraper-pod-selector=app=prometheus"},
			wantErr: "--sync-metrics-scraper-pod-selector needs --sync-metrics-scraper-namespace",
		},
		"not a namespace name": {
			args:    []string{"--sync-metrics-scraper-namespace=Monitoring"},
			wantErr: `--sync-metrics-scraper-namespace: "Monitoring" is not a namespace name`,
		},
		"selector not key=value": {
			args:    []string{"--sync-metrics-scraper-namespace=monitoring", "--sync-metrics-scraper-pod-selector=prometheus"},
			wantErr: `--sync-metrics-scraper-pod-selector: "prometheus" is not key=value`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o, err := parseManagerFlags(tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := o.ParseMetricsScraper()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("scraper = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// A certificate directory without the certificate or key stops the manager, naming the file,
// instead of serving a self-signed certificate that verifying scrapers reject.
func TestMetricsCertDirMustHoldTheCertificate(t *testing.T) {
	dir := t.TempDir()
	if err := checkMetricsCert(""); err != nil {
		t.Errorf("no directory: %v", err)
	}
	if err := checkMetricsCert(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "tls.crt")) {
		t.Errorf("empty directory: error %v, want one naming tls.crt", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkMetricsCert(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "tls.key")) {
		t.Errorf("no key: error %v, want one naming tls.key", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := checkMetricsCert(dir); err != nil {
		t.Errorf("certificate and key present: %v", err)
	}
}
