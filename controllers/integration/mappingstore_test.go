package integration

import (
	"path"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
)

func withPostgres(property ...string) func(*twv1.Integration) {
	return func(in *twv1.Integration) {
		in.Spec.MappingStore = &twv1.MappingStore{Postgres: &twv1.PostgresMappingStore{
			DSN:         "postgres://sync@db.acme.internal:5432/acme?sslmode=verify-full",
			Credentials: twv1.Credentials{RemoteKey: "db/mapping", Properties: property},
		}}
	}
}

func withClaim(in *twv1.Integration) {
	in.Spec.MappingStore = &twv1.MappingStore{SQLite: &twv1.SQLiteMappingStore{ClaimName: "own-claim"}}
}

func withEphemeral(in *twv1.Integration) {
	in.Spec.MappingStore = &twv1.MappingStore{SQLite: &twv1.SQLiteMappingStore{Ephemeral: true}}
}

func TestMappingStoreShapesTheChildren(t *testing.T) {
	tests := map[string]struct {
		mut             func(*twv1.Integration)
		wantSecrets     int
		wantProperty    string // the vault property read into the password file
		wantClaim       string
		wantDSN         string
		wantPersistence bool
	}{
		"default is SQLite on the operator's claim": {wantSecrets: 2, wantClaim: "cerbo-qb-state", wantPersistence: true},
		"SQLite on a claim of the user's own":       {mut: withClaim, wantSecrets: 2, wantClaim: "own-claim", wantPersistence: true},
		"ephemeral SQLite is an emptyDir":           {mut: withEphemeral, wantSecrets: 2},
		"PostgreSQL reads the password property": {
			mut: withPostgres(), wantSecrets: 3, wantProperty: "password", wantPersistence: true,
			wantDSN: "postgres://sync@db.acme.internal:5432/acme?sslmode=verify-full",
		},
		"PostgreSQL with a named property": {
			mut: withPostgres("pg_pass"), wantSecrets: 3, wantProperty: "pg_pass", wantPersistence: true,
			wantDSN: "postgres://sync@db.acme.internal:5432/acme?sslmode=verify-full",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := sampleIntegration()
			if tc.mut != nil {
				tc.mut(in)
			}
			ip := sampleInputs()
			if got := in.MappingPersistent(); got != tc.wantPersistence {
				t.Errorf("MappingPersistent = %v, want %v", got, tc.wantPersistence)
			}
			if got := len(credentialSides(in)); got != tc.wantSecrets {
				t.Fatalf("%d credential Secrets, want %d", got, tc.wantSecrets)
			}
			role := desiredReaderRole(in, ip)
			if got := len(role.Rules[0].ResourceNames); got != tc.wantSecrets {
				t.Errorf("reader Role names %d Secrets, want %d", got, tc.wantSecrets)
			}
			cm, err := desiredConfigMap(in, ip)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := syncconfig.Unmarshal([]byte(cm.Data[syncconfig.FileName]))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Store.DSN != tc.wantDSN {
				t.Errorf("store DSN %q, want %q", cfg.Store.DSN, tc.wantDSN)
			}
			pod := desiredDeployment(in, ip, cm).Spec.Template.Spec
			state := volume(pod, "state")
			switch {
			case tc.wantClaim != "" && (state.PersistentVolumeClaim == nil || state.PersistentVolumeClaim.ClaimName != tc.wantClaim):
				t.Errorf("state volume %+v, want claim %s", state.VolumeSource, tc.wantClaim)
			case tc.wantClaim == "" && state.EmptyDir == nil:
				t.Errorf("state volume %+v, want an emptyDir", state.VolumeSource)
			}
			if tc.wantProperty == "" {
				return
			}
			es := desiredExternalSecret(in, ip, storeSide)
			if len(es.Spec.Data) != 1 || es.Spec.DataFrom != nil || es.Spec.Data[0].SecretKey != storePasswordFile ||
				es.Spec.Data[0].RemoteRef.Property != tc.wantProperty || es.Spec.Data[0].RemoteRef.Key != "tenants/acme/db/mapping" {
				t.Errorf("store ExternalSecret data %+v", es.Spec.Data)
			}
			mount := path.Join(syncconfig.CredentialsDir, string(storeSide))
			if cfg.Store.PasswordFile != path.Join(mount, storePasswordFile) {
				t.Errorf("password file %q is not in the store credentials mount %s", cfg.Store.PasswordFile, mount)
			}
			i := slices.IndexFunc(pod.Containers[0].VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == mount })
			if i < 0 || !pod.Containers[0].VolumeMounts[i].ReadOnly {
				t.Errorf("store credentials not mounted read-only at %s", mount)
			}
		})
	}
}

func volume(pod corev1.PodSpec, name string) corev1.Volume {
	for _, v := range pod.Volumes {
		if v.Name == name {
			return v
		}
	}
	return corev1.Volume{}
}

func TestDesiredExportJobIsHardenedAndReachesWhatTheIntegrationCould(t *testing.T) {
	in := sampleIntegration(withPostgres(), func(in *twv1.Integration) { in.Spec.Image = "registry.example/custom:1" })
	ip := sampleInputs()
	ip.keyringVersion = "3"
	job := desiredExportJob(in, ip, &twv1.TenantExport{Request: "ticket-42", ClaimName: "acme-export", Recipients: []twv1.AgeRecipient{practiceRecipient, "age1pjp40v23pkll9t2zfeefn826sq26yfd5tt6c6j0fxrk20hcqf5dqvj6vmg"}})
	pod := job.Spec.Template.Spec
	assertRestricted(t, pod)
	c := pod.Containers[0]
	if c.Image != "tenantwire:test" {
		t.Errorf("export image %s: it decrypts every record, so only the operator's sync image may run it", c.Image)
	}
	if want := []string{"export", "--config", "/etc/tenantwire/sync.yaml", "--output-dir", "/export/ticket-42",
		"--recipient", practiceRecipient, "--recipient", "age1pjp40v23pkll9t2zfeefn826sq26yfd5tt6c6j0fxrk20hcqf5dqvj6vmg"}; !slices.Equal(c.Args, want) {
		t.Errorf("args %v, want %v", c.Args, want)
	}
	// In clear only when the Tenant says so.
	plain := desiredExportJob(in, ip, &twv1.TenantExport{Request: "ticket-42", ClaimName: "acme-export", Plaintext: true})
	if want := []string{"export", "--config", "/etc/tenantwire/sync.yaml", "--output-dir", "/export/ticket-42", "--plaintext"}; !slices.Equal(plain.Spec.Template.Spec.Containers[0].Args, want) {
		t.Errorf("plaintext args %v, want %v", plain.Spec.Template.Spec.Containers[0].Args, want)
	}
	if pod.RestartPolicy != corev1.RestartPolicyNever || *job.Spec.BackoffLimit != 2 || job.Spec.ActiveDeadlineSeconds == nil {
		t.Errorf("restart %s, backoff %d, deadline %v", pod.RestartPolicy, *job.Spec.BackoffLimit, job.Spec.ActiveDeadlineSeconds)
	}
	if volume(pod, "export").PersistentVolumeClaim == nil || volume(pod, "keyring").Secret == nil || volume(pod, "store-credentials").Secret == nil {
		t.Errorf("export pod volumes %+v lack the export claim, the keyring or the store password", pod.Volumes)
	}
	if job.Annotations["tenantwire.io/export-request"] != "ticket-42" {
		t.Errorf("job annotations %v", job.Annotations)
	}
	// The Integration's egress policy selects the export pod exactly as it selects the sync pods,
	// and the Deployment's selector does not take the export pod for one of its own.
	policy := desiredEgressPolicy(in, ip)
	sel := k8slabels.SelectorFromSet(policy.Spec.PodSelector.MatchLabels)
	cm, _ := desiredConfigMap(in, ip)
	deploy := desiredDeployment(in, ip, cm)
	if !sel.Matches(k8slabels.Set(job.Spec.Template.Labels)) || !sel.Matches(k8slabels.Set(deploy.Spec.Template.Labels)) {
		t.Error("the egress policy does not select both the export and the sync pods")
	}
	if k8slabels.SelectorFromSet(deploy.Spec.Selector.MatchLabels).Matches(k8slabels.Set(job.Spec.Template.Labels)) {
		t.Error("the Deployment's selector matches the export pod")
	}
}
