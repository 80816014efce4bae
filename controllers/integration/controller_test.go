package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/metrics"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

const timeout = 20 * time.Second

var ctx = context.Background()

// setupTenant creates a Tenant with a secret store and waits for its namespace.
func setupTenant(t *testing.T, name string, store bool) string {
	t.Helper()
	tn := &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: twv1.TenantSpec{DisplayName: name}}
	if store {
		tn.Spec.SecretStore = &twv1.TenantSecretStore{Kind: "ClusterSecretStore", Name: "vault", PathPrefix: "tenants/" + name + "/"}
	}
	if err := k8s.Create(ctx, tn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, tn) })
	ns := tn.NamespaceName()
	testenv.Eventually(t, timeout, func() error { return k8s.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}) })
	return ns
}

func newIntegration(ns, name string) *twv1.Integration {
	in := sampleIntegration()
	return &twv1.Integration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: in.Spec}
}

func createIntegration(t *testing.T, in *twv1.Integration) {
	t.Helper()
	if err := k8s.Create(ctx, in); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, in) })
}

func getIntegration(t *testing.T, in *twv1.Integration) *twv1.Integration {
	t.Helper()
	out := &twv1.Integration{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(in), out); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitCondition waits until the condition has the status and reason (reason "" matches any).
func waitCondition(t *testing.T, in *twv1.Integration, typ string, status metav1.ConditionStatus, reason string) *twv1.Integration {
	t.Helper()
	var out *twv1.Integration
	testenv.Eventually(t, timeout, func() error {
		out = getIntegration(t, in)
		c := conditions.Get(out.Status.Conditions, typ)
		if c == nil || c.Status != status || (reason != "" && c.Reason != reason) || out.Status.ObservedGeneration != out.Generation {
			return fmt.Errorf("%s: want %s/%s, have %+v", typ, status, reason, out.Status.Conditions)
		}
		return nil
	})
	return out
}

// syncCredentials plays the External Secrets Operator: marks both ExternalSecrets Ready and writes
// their target Secrets with the labels from the ExternalSecret template.
func syncCredentials(t *testing.T, in *twv1.Integration, value string) {
	t.Helper()
	for _, s := range credentialSides(in) {
		key := client.ObjectKey{Namespace: in.Namespace, Name: credentialsName(in, s)}
		es := &esv1.ExternalSecret{}
		testenv.Eventually(t, timeout, func() error { return k8s.Get(ctx, key, es) })
		es.Status.Conditions = []esv1.ExternalSecretStatusCondition{{Type: esv1.ExternalSecretReady, Status: corev1.ConditionTrue,
			Reason: esv1.ConditionReasonSecretSynced, Message: "secret synced", LastTransitionTime: metav1.Now()}}
		if err := k8s.Status().Update(ctx, es); err != nil {
			t.Fatal(err)
		}
		secret := &corev1.Secret{}
		err := k8s.Get(ctx, key, secret)
		if apierrors.IsNotFound(err) {
			secret = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name,
				Labels: es.Spec.Target.Template.Metadata.Labels}}
			secret.Data = map[string][]byte{"token": []byte(value)}
			if err := k8s.Create(ctx, secret); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		secret.Data = map[string][]byte{"token": []byte(value)}
		if err := k8s.Update(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
}

// rotate changes one credential Secret, as ESO does when the vault value changes.
func rotate(t *testing.T, in *twv1.Integration, s side, value string) {
	t.Helper()
	secret := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: credentialsName(in, s)}, secret); err != nil {
		t.Fatal(err)
	}
	secret.Data = map[string][]byte{"token": []byte(value)}
	if err := k8s.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
}

// markAvailable plays the Deployment controller, which envtest does not run.
func markAvailable(t *testing.T, in *twv1.Integration) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{}
	testenv.Eventually(t, timeout, func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: syncName(in)}, d)
	})
	n := ptr.Deref(d.Spec.Replicas, 1)
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"}}}
	if err := k8s.Status().Update(ctx, d); err != nil {
		t.Fatal(err)
	}
	return d
}

func getDeployment(in *twv1.Integration) (*appsv1.Deployment, error) {
	d := &appsv1.Deployment{}
	return d, k8s.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: syncName(in)}, d)
}

func TestIntegrationBecomesReadyOnceCredentialsSync(t *testing.T) {
	ns := setupTenant(t, "alpha", true)
	in := newIntegration(ns, "cerbo-qb")
	createIntegration(t, in)

	got := waitCondition(t, in, twv1.IntegrationConditionCredentialsReady, metav1.ConditionFalse, twv1.ReasonCredentialsPending)
	if got.Status.Tenant != "alpha" {
		t.Errorf("status.tenant = %q", got.Status.Tenant)
	}
	for _, obj := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "cerbo-qb-sync"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "cerbo-qb-credentials-reader"}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "cerbo-qb-credentials-reader"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cerbo-qb-sync-config"}},
		&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "cerbo-qb-egress"}},
		&esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: "cerbo-qb-source-credentials"}},
		&esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: "cerbo-qb-destination-credentials"}},
	} {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: obj.GetName()}, obj); err != nil {
			t.Errorf("%T %s: %v", obj, obj.GetName(), err)
		}
	}
	if _, err := getDeployment(in); !apierrors.IsNotFound(err) {
		t.Fatalf("the Deployment exists before its credentials (err=%v)", err)
	}

	// Synced credentials start the Deployment. CredentialsReady turning True on its own is a step
	// of progress whose write may be coalesced into Ready, so it is checked on the final status.
	syncCredentials(t, in, "v1")
	d := markAvailable(t, in)
	ready := waitCondition(t, in, twv1.ConditionReady, metav1.ConditionTrue, "")
	if c := conditions.Get(ready.Status.Conditions, twv1.IntegrationConditionCredentialsReady); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("CredentialsReady = %+v, want True", c)
	}
	if ready.Status.CredentialsHash == "" || ready.Status.CredentialsHash != d.Spec.Template.Annotations[CredentialsHashAnnotation] {
		t.Errorf("status.credentialsHash %q vs template %q", ready.Status.CredentialsHash, d.Spec.Template.Annotations[CredentialsHashAnnotation])
	}
}

func TestCredentialRotationRollsExactlyOnce(t *testing.T) {
	ns := setupTenant(t, "beta", true)
	in := newIntegration(ns, "rotating")
	createIntegration(t, in)
	syncCredentials(t, in, "v1")
	d := markAvailable(t, in)
	waitCondition(t, in, twv1.ConditionReady, metav1.ConditionTrue, "")
	gen0, hash0 := d.Generation, d.Spec.Template.Annotations[CredentialsHashAnnotation]
	rollouts := metrics.WorkloadRollouts.WithLabelValues("credentials")
	rollouts0 := testutil.ToFloat64(rollouts)

	// A refresh that brings the same data (ESO rewrites the Secret) rolls nothing.
	syncCredentials(t, in, "v1")
	time.Sleep(time.Second)
	if d, _ = getDeployment(in); d.Generation != gen0 {
		t.Fatalf("a refresh without changes rolled the pods: generation %d -> %d", gen0, d.Generation)
	}

	// A changed credential changes the template exactly once.
	rotate(t, in, destinationSide, "v2")
	testenv.Eventually(t, timeout, func() error {
		d, _ = getDeployment(in)
		if d.Spec.Template.Annotations[CredentialsHashAnnotation] == hash0 {
			return fmt.Errorf("template not rolled yet")
		}
		return nil
	})
	time.Sleep(time.Second)
	if d, _ = getDeployment(in); d.Generation != gen0+1 {
		t.Errorf("rotation changed the template %d times, want 1", d.Generation-gen0)
	}
	// The roll is announced once, as an event and in the rollout counter, and neither names a value.
	testenv.Eventually(t, timeout, func() error {
		if n := countEvents(t, in, corev1.EventTypeNormal, "CredentialsRotated"); n != 1 {
			return fmt.Errorf("%d CredentialsRotated events, want 1", n)
		}
		return nil
	})
	if n := testutil.ToFloat64(rollouts) - rollouts0; n != 1 {
		t.Errorf("tenantwire_workload_rollouts_total{cause=\"credentials\"} rose by %v, want 1", n)
	}
	markAvailable(t, in)
	waitCondition(t, in, twv1.ConditionReady, metav1.ConditionTrue, "")

	// A converged Integration (and so an operator restart, whose first reconcile is the same)
	// makes no writes.
	time.Sleep(time.Second)
	before := writes.Writes()
	for range 2 {
		if _, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(in)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := writes.Writes() - before; n != 0 {
		t.Errorf("converged reconciles made %d writes, want 0", n)
	}
	if d, _ = getDeployment(in); d.Generation != gen0+1 {
		t.Errorf("reconciling a converged Integration changed the Deployment (generation %d)", d.Generation)
	}
	if n := countEvents(t, in, corev1.EventTypeNormal, "CredentialsRotated"); n != 1 {
		t.Errorf("%d CredentialsRotated events after converging, want 1", n)
	}
	if n := testutil.ToFloat64(rollouts) - rollouts0; n != 1 {
		t.Errorf("the rollout counter rose by %v after converging, want 1", n)
	}
}

// countEvents counts the events of one type and reason about an Integration, repeats included.
func countEvents(t *testing.T, in *twv1.Integration, typ, reason string) int32 {
	t.Helper()
	evs := &corev1.EventList{}
	if err := k8s.List(ctx, evs, client.InNamespace(in.Namespace)); err != nil {
		t.Fatal(err)
	}
	var n int32
	for _, e := range evs.Items {
		if e.InvolvedObject.Name == in.Name && e.Type == typ && e.Reason == reason {
			n += max(e.Count, 1)
		}
	}
	return n
}

func TestPauseStopAndRun(t *testing.T) {
	ns := setupTenant(t, "gamma", true)
	in := newIntegration(ns, "lifecycle")
	createIntegration(t, in)
	syncCredentials(t, in, "v1")
	markAvailable(t, in)
	waitCondition(t, in, twv1.ConditionReady, metav1.ConditionTrue, "")

	setState := func(s twv1.IntegrationState) {
		cur := getIntegration(t, in)
		cur.Spec.State = s
		if err := k8s.Update(ctx, cur); err != nil {
			t.Fatal(err)
		}
	}
	setState(twv1.StatePaused)
	testenv.Eventually(t, timeout, func() error {
		d, err := getDeployment(in)
		if err != nil || ptr.Deref(d.Spec.Replicas, -1) != 0 {
			return fmt.Errorf("paused Deployment replicas = %v (err=%v)", d.Spec.Replicas, err)
		}
		return nil
	})
	markAvailable(t, in)
	waitCondition(t, in, twv1.IntegrationConditionWorkloadReady, metav1.ConditionTrue, twv1.ReasonPaused)
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "lifecycle-sync-config"}, &corev1.ConfigMap{}); err != nil {
		t.Errorf("paused integration lost its config: %v", err)
	}

	setState(twv1.StateStopped)
	testenv.Eventually(t, timeout, func() error {
		d, err := getDeployment(in)
		if apierrors.IsNotFound(err) || (err == nil && !d.DeletionTimestamp.IsZero()) {
			return nil
		}
		return fmt.Errorf("stopped integration still has its Deployment (err=%v)", err)
	})
	waitCondition(t, in, twv1.IntegrationConditionWorkloadReady, metav1.ConditionTrue, twv1.ReasonStopped)

	setState(twv1.StateRunning)
	testenv.Eventually(t, timeout, func() error {
		d, err := getDeployment(in)
		if err != nil || ptr.Deref(d.Spec.Replicas, -1) != 1 {
			return fmt.Errorf("running Deployment not back (err=%v)", err)
		}
		return nil
	})
}

func TestIntegrationOutsideATenant(t *testing.T) {
	t.Run("namespace of no tenant", func(t *testing.T) {
		in := newIntegration("default", "stray")
		createIntegration(t, in)
		got := waitCondition(t, in, twv1.ConditionReady, metav1.ConditionFalse, twv1.ReasonNotInTenantNamespace)
		if !conditions.IsTrue(got.Status.Conditions, twv1.ConditionStalled) {
			t.Errorf("want Stalled, have %+v", got.Status.Conditions)
		}
	})
	t.Run("tenant missing", func(t *testing.T) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "tenant-ghost",
			Labels: map[string]string{labels.ManagedBy: labels.ManagedByValue, labels.Tenant: "ghost"}}}
		if err := k8s.Create(ctx, ns); err != nil {
			t.Fatal(err)
		}
		in := newIntegration(ns.Name, "orphan")
		createIntegration(t, in)
		waitCondition(t, in, twv1.ConditionReady, metav1.ConditionFalse, twv1.ReasonTenantNotFound)
		assertNothingBuilt(t, in)
		expectWarning(t, in, twv1.ReasonTenantNotFound)
	})
	t.Run("tenant without a secret store", func(t *testing.T) {
		ns := setupTenant(t, "nostore", false)
		in := newIntegration(ns, "nowhere")
		createIntegration(t, in)
		waitCondition(t, in, twv1.ConditionReady, metav1.ConditionFalse, twv1.ReasonSecretStoreMissing)
		assertNothingBuilt(t, in)
	})
}

func assertNothingBuilt(t *testing.T, in *twv1.Integration) {
	t.Helper()
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: credentialsName(in, sourceSide)}, &esv1.ExternalSecret{}); !apierrors.IsNotFound(err) {
		t.Errorf("ExternalSecret created for a refused Integration (err=%v)", err)
	}
	if _, err := getDeployment(in); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment created for a refused Integration (err=%v)", err)
	}
}

func expectWarning(t *testing.T, in *twv1.Integration, reason string) {
	t.Helper()
	testenv.Eventually(t, timeout, func() error {
		evs := &corev1.EventList{}
		if err := k8s.List(ctx, evs, client.InNamespace(in.Namespace)); err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.InvolvedObject.Name == in.Name && e.Type == corev1.EventTypeWarning && e.Reason == reason {
				return nil
			}
		}
		return fmt.Errorf("no Warning %s event for %s", reason, in.Name)
	})
}

func TestIntegrationValidation(t *testing.T) {
	tests := map[string]struct {
		mut     func(*twv1.Integration)
		wantMsg string
	}{
		"plain http endpoint": {
			mut:     func(in *twv1.Integration) { in.Spec.Source.URL = "http://acme.md-hq.com/api" },
			wantMsg: "url must use https:// (plain http is not allowed)",
		},
		"resync request with a space": {
			mut:     func(in *twv1.Integration) { in.Spec.Resync = &twv1.IntegrationResync{Request: "ticket 4711"} },
			wantMsg: "spec.resync.request in body should match",
		},
		"replay from a source that cannot read a record by ID": {
			mut: func(in *twv1.Integration) {
				in.Spec.Source.System = twv1.SystemWebhook
				in.Spec.Replay = &twv1.IntegrationReplay{Request: "ticket-4711"}
			},
			wantMsg: "spec.replay: only a cerbo source can read a rejected record again by its ID; request spec.resync instead",
		},
		"replay request with a space": {
			mut:     func(in *twv1.Integration) { in.Spec.Replay = &twv1.IntegrationReplay{Request: "ticket 4711"} },
			wantMsg: "spec.replay.request in body should match",
		},
		"invalid CIDR": {
			mut:     func(in *twv1.Integration) { in.Spec.Egress[0].CIDR = "10.0.0.0/33" },
			wantMsg: "cidr must be a valid IPv4 or IPv6 CIDR",
		},
		"egress to every address": {
			mut:     func(in *twv1.Integration) { in.Spec.Egress[0].CIDR = "0.0.0.0/0" },
			wantMsg: "cidr must not open every address (0.0.0.0/0, ::/0)",
		},
		"egress to every IPv6 address": {
			mut:     func(in *twv1.Integration) { in.Spec.Egress[0].CIDR = "::/0" },
			wantMsg: "cidr must not open every address (0.0.0.0/0, ::/0)",
		},
		"egress to the metadata address": {
			mut:     func(in *twv1.Integration) { in.Spec.Egress[0].CIDR = "169.254.169.254/32" },
			wantMsg: "cidr must not overlap 169.254.0.0/16",
		},
		"egress over the link-local range": {
			mut:     func(in *twv1.Integration) { in.Spec.Egress[0].CIDR = "169.0.0.0/8" },
			wantMsg: "cidr must not overlap 169.254.0.0/16",
		},
		"egress to IPv6 link-local": {
			mut:     func(in *twv1.Integration) { in.Spec.Egress[0].CIDR = "fe80::1/128" },
			wantMsg: "cidr must not overlap fe80::/10",
		},
		"IP literal source": {
			mut:     func(in *twv1.Integration) { in.Spec.Source.URL = "https://203.0.113.9/api/v1" },
			wantMsg: "url must name the vendor's host, not an IP address",
		},
		"IPv6 literal destination": {
			mut:     func(in *twv1.Integration) { in.Spec.Destination.URL = "https://[2001:db8::1]:443" },
			wantMsg: "url must name the vendor's host, not an IP address",
		},
		"port out of range": {
			mut:     func(in *twv1.Integration) { in.Spec.Egress[0].Ports = []int32{70000} },
			wantMsg: "should be less than or equal to 65535",
		},
		"remote key escaping the prefix": {
			mut:     func(in *twv1.Integration) { in.Spec.Destination.Credentials.RemoteKey = "../other-tenant/qb" },
			wantMsg: "credentials.remoteKey must not contain '..'",
		},
		"absolute remote key": {
			mut:     func(in *twv1.Integration) { in.Spec.Source.Credentials.RemoteKey = "/tenants/other/cerbo" },
			wantMsg: "without a leading '/'",
		},
		"no egress": {
			mut:     func(in *twv1.Integration) { in.Spec.Egress = nil },
			wantMsg: "spec.egress",
		},
		"interval and cron": {
			mut: func(in *twv1.Integration) {
				in.Spec.Schedule = &twv1.Schedule{Interval: &metav1.Duration{Duration: time.Minute}, Cron: "* * * * *"}
			},
			wantMsg: "set exactly one of schedule.interval and schedule.cron",
		},
		"interval too short": {
			mut: func(in *twv1.Integration) {
				in.Spec.Schedule = &twv1.Schedule{Interval: &metav1.Duration{Duration: time.Second}}
			},
			wantMsg: "schedule.interval must be at least 30s",
		},
		"unknown system": {
			mut:     func(in *twv1.Integration) { in.Spec.Destination.System = "salesforce" },
			wantMsg: `Unsupported value: "salesforce"`,
		},
		"unknown state": {
			mut:     func(in *twv1.Integration) { in.Spec.State = "sleeping" },
			wantMsg: `Unsupported value: "sleeping"`,
		},
		"two replicas": {
			mut:     func(in *twv1.Integration) { in.Spec.Replicas = ptr.To[int32](2) },
			wantMsg: "should be less than or equal to 1",
		},
		"password in the DSN": {
			mut: func(in *twv1.Integration) {
				withPostgres()(in)
				in.Spec.MappingStore.Postgres.DSN = "postgres://sync:hunter2@db:5432/acme?sslmode=verify-full"
			},
			wantMsg: "postgres.dsn must not contain a password",
		},
		"DSN without verified TLS": {
			mut: func(in *twv1.Integration) {
				withPostgres()(in)
				in.Spec.MappingStore.Postgres.DSN = "postgres://sync@db:5432/acme?sslmode=require"
			},
			wantMsg: "postgres.dsn must set sslmode=verify-full or sslmode=verify-ca",
		},
		"not a postgres DSN": {
			mut: func(in *twv1.Integration) {
				withPostgres()(in)
				in.Spec.MappingStore.Postgres.DSN = "mysql://sync@db/acme?sslmode=verify-full"
			},
			wantMsg: "postgres.dsn must be a postgres:// or postgresql:// URL",
		},
		"two stores": {
			mut: func(in *twv1.Integration) {
				withPostgres()(in)
				in.Spec.MappingStore.SQLite = &twv1.SQLiteMappingStore{ClaimName: "state"}
			},
			wantMsg: "set at most one of mappingStore.sqlite and mappingStore.postgres",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := newIntegration("default", "invalid")
			tc.mut(in)
			err := k8s.Create(ctx, in)
			if err == nil {
				_ = k8s.Delete(ctx, in)
				t.Fatal("the API server accepted an invalid Integration")
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error = %v, want Invalid mentioning %q", err, tc.wantMsg)
			}
		})
	}
}

func TestIntegrationDeletionLeavesChildrenToTheGarbageCollector(t *testing.T) {
	ns := setupTenant(t, "delta", true)
	in := newIntegration(ns, "goner")
	createIntegration(t, in)
	waitCondition(t, in, twv1.IntegrationConditionCredentialsReady, metav1.ConditionFalse, "")
	cm := &corev1.ConfigMap{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: configName(in)}, cm); err != nil {
		t.Fatal(err)
	}
	owner := getIntegration(t, in)
	if !metav1.IsControlledBy(cm, owner) || ptr.Deref(cm.OwnerReferences[0].BlockOwnerDeletion, false) == false {
		t.Errorf("config map owner refs = %+v", cm.OwnerReferences)
	}
	if err := k8s.Delete(ctx, owner); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, timeout, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(in), &twv1.Integration{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("integration still present (err=%v)", err)
		}
		return nil
	})
}

func setTenantState(t *testing.T, name string, state twv1.TenantState) {
	t.Helper()
	tn := &twv1.Tenant{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: name}, tn); err != nil {
		t.Fatal(err)
	}
	tn.Spec.State = state
	if err := k8s.Update(ctx, tn); err != nil {
		t.Fatal(err)
	}
}

func TestTenantSuspendAndOffboardReachTheWorkload(t *testing.T) {
	ns := setupTenant(t, "epsilon", true)
	in := newIntegration(ns, "tenant-lifecycle")
	createIntegration(t, in)
	syncCredentials(t, in, "v1")
	markAvailable(t, in)
	waitCondition(t, in, twv1.ConditionReady, metav1.ConditionTrue, "")

	setTenantState(t, "epsilon", twv1.TenantSuspended)
	testenv.Eventually(t, timeout, func() error {
		d, err := getDeployment(in)
		if err != nil || ptr.Deref(d.Spec.Replicas, -1) != 0 {
			return fmt.Errorf("suspended tenant's Deployment replicas = %v (err=%v)", d.Spec.Replicas, err)
		}
		return nil
	})
	markAvailable(t, in)
	waitCondition(t, in, twv1.IntegrationConditionWorkloadReady, metav1.ConditionTrue, twv1.ReasonTenantSuspended)

	setTenantState(t, "epsilon", twv1.TenantActive)
	testenv.Eventually(t, timeout, func() error {
		d, err := getDeployment(in)
		if err != nil || ptr.Deref(d.Spec.Replicas, -1) != 1 {
			return fmt.Errorf("resumed tenant's Deployment replicas = %v (err=%v)", d.Spec.Replicas, err)
		}
		return nil
	})
	markAvailable(t, in)
	waitCondition(t, in, twv1.ConditionReady, metav1.ConditionTrue, "")

	setTenantState(t, "epsilon", twv1.TenantOffboarding)
	waitCondition(t, in, twv1.ConditionReady, metav1.ConditionFalse, twv1.ReasonTenantOffboarding)
	testenv.Eventually(t, timeout, func() error {
		if d, err := getDeployment(in); !apierrors.IsNotFound(err) && (err != nil || d.DeletionTimestamp.IsZero()) {
			return fmt.Errorf("offboarding tenant's Deployment still running (err=%v)", err)
		}
		for _, s := range []side{sourceSide, destinationSide} {
			err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: credentialsName(in, s)}, &esv1.ExternalSecret{})
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("%s credentials ExternalSecret still present (err=%v)", s, err)
			}
		}
		return nil
	})
}
