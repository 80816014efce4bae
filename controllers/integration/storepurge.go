package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/store"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
)

const (
	// storePurgeDeadline bounds a store purge Job, retries included: a DELETE of a million rows
	// takes seconds, so ten minutes means the database is unreachable.
	storePurgeDeadline int64 = 600
	// storePurgeResultFile is the container's termination message: the counts reach the
	// controller through the pod's status, so nothing but the counts leaves the Job.
	storePurgeResultFile = "/dev/termination-log"
)

// storePurgeDue says whether the Integration's Tenant is being purged: its purge record is
// written (the Tenant controller's contract) and not completed.
func storePurgeDue(t *twv1.Tenant) bool {
	return t != nil && t.Status.Purge != nil && t.Status.Purge.CompletedAt == nil
}

// desiredStorePurgeJob runs `tenantwire purge-store` from the operator's own sync image with the
// sync pods' identity, hardening and (through the Integration's egress policy, which selects every
// pod of the Integration) network reach. It mounts only the sync configuration and the store's
// password: no keyring (it deletes ciphertext without opening it) and no vendor credentials.
func desiredStorePurgeJob(in *twv1.Integration, ip inputs) *batchv1.Job {
	storeCreds := string(storeSide) + "-credentials"
	mounts := []corev1.VolumeMount{
		{Name: "config", MountPath: syncconfig.ConfigDir, ReadOnly: true},
		{Name: storeCreds, MountPath: path.Join(syncconfig.CredentialsDir, string(storeSide)), ReadOnly: true},
	}
	volumes := []corev1.Volume{
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: configName(in)}}}},
		secretVolume(storeCreds, credentialsName(in, storeSide)),
	}
	return runtimeJob(in, ip, labels.StorePurgeJobName(in.Name), labels.StorePurgeComponent, storePurgeDeadline, corev1.Container{
		Name: "purge-store",
		Args: []string{"purge-store", "--config", path.Join(syncconfig.ConfigDir, syncconfig.FileName),
			"--result-file", storePurgeResultFile},
		TerminationMessagePath:   storePurgeResultFile,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		VolumeMounts:             mounts,
	}, volumes)
}

// storePurgeOutcome is a pure function of the Job and, once it completed, the counts its pod
// reported (nil when none could be read): the Integration's status.storePurge.
func storePurgeOutcome(job *batchv1.Job, counts *store.PurgeCounts) *twv1.IntegrationStorePurge {
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			st := &twv1.IntegrationStorePurge{Phase: twv1.StorePurgeSucceeded}
			if counts != nil {
				st.Deleted = &twv1.PurgedRows{MappingRows: counts.MappingRows, SavedTokens: counts.SavedTokens,
					Cursors: counts.Cursors, Deliveries: counts.Deliveries, RejectedRecords: counts.RejectedRecords}
			} else {
				st.Message = "the purge Job succeeded; its pod's counts could not be read"
			}
			return st
		case batchv1.JobFailed:
			return &twv1.IntegrationStorePurge{Phase: twv1.StorePurgeFailed,
				Message: fmt.Sprintf("purge Job %s failed (%s): %s", job.Name, c.Reason, c.Message)}
		}
	}
	return &twv1.IntegrationStorePurge{Phase: twv1.StorePurgeRunning}
}

// reconcileStorePurge runs, once the Tenant's purge record is written, the Job that deletes the
// Integration's rows from its PostgreSQL mapping store, and reports it in status.storePurge for
// the Tenant controller, which destroys the keyring only after it. A finished purge is never run
// again. It returns the status to report (the current one when nothing is due).
func (r *Reconciler) reconcileStorePurge(ctx context.Context, in *twv1.Integration, t *twv1.Tenant) (*twv1.IntegrationStorePurge, error) {
	cur := in.Status.StorePurge
	if postgresStore(in) == nil || !storePurgeDue(t) || !slices.Contains(t.Status.Purge.Integrations, in.Name) {
		// Only an Integration the purge's inventory lists: one a tenant admin creates while the
		// purge runs starts no Job (and has no rendered configuration to run one with).
		return nil, nil
	}
	if cur != nil && cur.Phase != twv1.StorePurgeRunning {
		return cur, nil
	}
	job := &batchv1.Job{}
	switch err := r.Client.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: labels.StorePurgeJobName(in.Name)}, job); {
	case apierrors.IsNotFound(err):
		ip := inputs{tenant: t, syncImage: r.SyncImage, pullSecrets: r.SyncImagePullSecrets}
		_, err := r.apply.Apply(ctx, desiredStorePurgeJob(in, ip))
		return &twv1.IntegrationStorePurge{Phase: twv1.StorePurgeRunning}, err
	case err != nil:
		return cur, err
	case !metav1.IsControlledBy(job, in):
		return &twv1.IntegrationStorePurge{Phase: twv1.StorePurgeFailed,
			Message: fmt.Sprintf("job %s exists and is not this Integration's; the store was not purged", job.Name)}, nil
	}
	var counts *store.PurgeCounts
	if job.Status.Succeeded > 0 {
		var err error
		if counts, err = r.readStorePurgeCounts(ctx, job); err != nil {
			return cur, err
		}
	}
	return storePurgeOutcome(job, counts), nil
}

// readStorePurgeCounts reads the counts from the termination message of the Job's succeeded pod,
// uncached (no pod informer for a read once per purge).
func (r *Reconciler) readStorePurgeCounts(ctx context.Context, job *batchv1.Job) (*store.PurgeCounts, error) {
	pods := &corev1.PodList{}
	if err := r.APIReader.List(ctx, pods, client.InNamespace(job.Namespace), client.MatchingLabels{batchv1.JobNameLabel: job.Name}); err != nil {
		return nil, err
	}
	for _, pod := range pods.Items {
		if pod.Status.Phase != corev1.PodSucceeded {
			continue
		}
		for _, cs := range pod.Status.ContainerStatuses {
			if cs.State.Terminated == nil {
				continue
			}
			var counts store.PurgeCounts
			if json.Unmarshal([]byte(cs.State.Terminated.Message), &counts) == nil {
				return &counts, nil
			}
		}
	}
	return nil, nil
}
