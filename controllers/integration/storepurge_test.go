package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/labels"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// The purge Job deletes ciphertext: it mounts neither the keyring nor the vendors' credentials,
// only the configuration and the store's password.
func TestDesiredStorePurgeJobMountsNoKeysNorVendorCredentials(t *testing.T) {
	in := sampleIntegration(withPostgres())
	ip := inputs{tenant: &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme"}}, syncImage: "sync:1", keyringVersion: "3"}
	job := desiredStorePurgeJob(in, ip)
	pod := job.Spec.Template.Spec
	var secrets []string
	for _, v := range pod.Volumes {
		if v.Secret != nil {
			secrets = append(secrets, v.Secret.SecretName)
		}
	}
	if want := []string{credentialsName(in, storeSide)}; !slices.Equal(secrets, want) {
		t.Errorf("purge Job mounts Secrets %v, want only %v", secrets, want)
	}
	c := pod.Containers[0]
	if c.Image != "sync:1" || c.Args[0] != "purge-store" || !slices.Contains(c.Args, storePurgeResultFile) {
		t.Errorf("purge container runs %s %v", c.Image, c.Args)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken || pod.ServiceAccountName != syncName(in) {
		t.Errorf("purge pod identity: %s, automount %v", pod.ServiceAccountName, pod.AutomountServiceAccountToken)
	}
	if job.Spec.ActiveDeadlineSeconds == nil || job.Spec.BackoffLimit == nil {
		t.Error("the purge Job is not bounded")
	}
}

func TestStorePurgeOutcome(t *testing.T) {
	job := func(typ batchv1.JobConditionType) *batchv1.Job {
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "a-store-purge"}}
		if typ != "" {
			j.Status.Conditions = []batchv1.JobCondition{{Type: typ, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "failed 3 times"}}
		}
		return j
	}
	if got := storePurgeOutcome(job(""), nil); got.Phase != twv1.StorePurgeRunning {
		t.Errorf("a running Job: %+v", got)
	}
	if got := storePurgeOutcome(job(batchv1.JobFailed), nil); got.Phase != twv1.StorePurgeFailed || !strings.Contains(got.Message, "BackoffLimitExceeded") {
		t.Errorf("a failed Job: %+v", got)
	}
	got := storePurgeOutcome(job(batchv1.JobComplete), nil)
	if got.Phase != twv1.StorePurgeSucceeded || got.Deleted != nil || got.Message == "" {
		t.Errorf("a Job without readable counts: %+v", got)
	}
}

// TestPurgedTenantPurgesItsPostgreSQLStoreBeforeTheKeyring runs both controllers: the Tenant's
// purge record starts the Integration's store purge Job; the keyring stays until the Job has
// reported; the record then shows the rows destroyed.
func TestPurgedTenantPurgesItsPostgreSQLStoreBeforeTheKeyring(t *testing.T) {
	ns := setupTenant(t, "omicron", true)
	in := newIntegration(ns, "pg")
	withPostgres()(in)
	createIntegration(t, in)
	syncCredentials(t, in, "v1")
	keyringKey := client.ObjectKey{Namespace: ns, Name: keyring.SecretName}
	if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: keyring.SecretName,
		Labels: map[string]string{labels.ManagedBy: labels.ManagedByValue}}, Data: map[string][]byte{keyring.DataKey: []byte("{}")}}); err != nil {
		t.Fatal(err)
	}

	tn := &twv1.Tenant{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: "omicron"}, tn); err != nil {
		t.Fatal(err)
	}
	tn.Spec.State = twv1.TenantOffboarding
	tn.Annotations = map[string]string{twv1.PurgeImmediatelyAnnotation: "true"}
	if err := k8s.Update(ctx, tn); err != nil {
		t.Fatal(err)
	}
	job := &batchv1.Job{}
	testenv.Eventually(t, timeout, func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: labels.StorePurgeJobName(in.Name)}, job)
	})
	if err := k8s.Get(ctx, keyringKey, &corev1.Secret{}); err != nil {
		t.Fatalf("the keyring went while the store purge Job runs: %v", err)
	}
	if !metav1.IsControlledBy(job, getIntegration(t, in)) {
		t.Errorf("the purge Job is not the Integration's child: %+v", job.OwnerReferences)
	}

	// Play the Job controller and the kubelet: the pod ends with the counts as its termination
	// message.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: job.Name + "-x", Labels: map[string]string{batchv1.JobNameLabel: job.Name}},
		Spec: *job.Spec.Template.Spec.DeepCopy()}
	if err := k8s.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{Name: "purge-store",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed",
			Message: `{"mappingRows":1200,"savedTokens":1,"cursors":2,"deliveries":0}`}}}}}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	completeJob(t, job)

	testenv.Eventually(t, timeout, func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Name: "omicron"}, tn); err != nil {
			return err
		}
		if tn.Status.Purge == nil || tn.Status.Purge.CompletedAt == nil {
			return fmt.Errorf("not purged yet: %+v", tn.Status.Purge)
		}
		return nil
	})
	want := twv1.PurgedRows{MappingRows: 1200, SavedTokens: 1, Cursors: 2}
	if s := tn.Status.Purge.Stores; len(s) != 1 || s[0].Integration != "pg" || s[0].Deleted == nil || *s[0].Deleted != want {
		t.Errorf("purge record stores = %+v, want pg with %+v", s, want)
	}
	for _, r := range tn.Status.Purge.Remaining {
		if r.Kind == twv1.PurgeRemainderPostgreSQLDatabase {
			t.Errorf("the purged database is still listed as remaining: %+v", r)
		}
	}
	if err := k8s.Get(ctx, keyringKey, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("the keyring survived the purge (err=%v)", err)
	}
}

// A tenant admin may create Integrations while the tenant is purged; one the purge's inventory
// does not list starts no purge Job and reports nothing the Tenant would record.
func TestStorePurgeRunsOnlyForIntegrationsInThePurgeRecord(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(twscheme.New()).Build()
	r := (&Reconciler{Client: c, APIReader: c, Scheme: c.Scheme(), SyncImage: "sync:1"}).complete()
	tn := &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme"}, Status: twv1.TenantStatus{
		Purge: &twv1.TenantPurgeRecord{Integrations: []string{"listed"}}}}
	late := sampleIntegration(withPostgres())
	late.Name = "created-during-the-purge"
	st, err := r.reconcileStorePurge(context.Background(), late, tn)
	if err != nil || st != nil {
		t.Errorf("an Integration outside the inventory reports %+v (err %v), want nothing", st, err)
	}
	jobs := &batchv1.JobList{}
	if err := c.List(context.Background(), jobs); err != nil || len(jobs.Items) != 0 {
		t.Errorf("%d purge Jobs (err %v), want none", len(jobs.Items), err)
	}
}
