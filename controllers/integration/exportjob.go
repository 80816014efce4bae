package integration

import (
	"context"
	"fmt"
	"path"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/exportarchive"
	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
)

const (
	// ExportMountPath is where the export claim is mounted in the export pod.
	ExportMountPath = "/export"
	// exportDeadline bounds an export; a mapping of a million patients takes minutes.
	exportDeadline int64 = 3600
)

// exportArgs are the export command's arguments: the request's directory in the claim, and the
// recipients the export is sealed to or, only when the Tenant asks for it, --plaintext.
func exportArgs(export *twv1.TenantExport) []string {
	args := []string{"export", "--config", path.Join(syncconfig.ConfigDir, syncconfig.FileName),
		"--output-dir", path.Join(ExportMountPath, export.Request)}
	if export.Encryption() == twv1.ExportEncryptionNone {
		return append(args, "--plaintext")
	}
	for _, r := range export.Recipients {
		args = append(args, "--recipient", string(r))
	}
	return args
}

// desiredExportJob runs `tenantwire export` from the operator's own sync image (never a custom
// spec.image: the export decrypts every record) with the sync pods' identity, mounts, hardening and
// (through the Integration's egress policy, which selects every pod of the Integration) network
// reach, plus the export claim. It keeps the keyring's mount: the mapping is decrypted into the
// export, which is the point of it.
func desiredExportJob(in *twv1.Integration, ip inputs, export *twv1.TenantExport) *batchv1.Job {
	mounts, volumes := podVolumes(in, ip)
	mounts = append(mounts, corev1.VolumeMount{Name: "export", MountPath: ExportMountPath})
	volumes = append(volumes, corev1.Volume{Name: "export", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: export.ClaimName}}})
	job := runtimeJob(in, ip, labels.ExportJobName(in.Name), labels.ExportComponent, exportDeadline, corev1.Container{
		Name:         "export",
		Args:         exportArgs(export),
		VolumeMounts: mounts,
	}, volumes)
	job.Annotations = map[string]string{labels.ExportRequestAnnotation: export.Request}
	job.Spec.Template.Annotations = map[string]string{labels.ExportRequestAnnotation: export.Request}
	return job
}

// runtimeJob is a Job of the Integration that runs one command of the operator's sync image with
// the sync pods' identity, hardening and resources, and no API credentials: the export and the
// store purge. The container's name, arguments and mounts are the caller's.
func runtimeJob(in *twv1.Integration, ip inputs, name, component string, deadline int64, c corev1.Container, volumes []corev1.Volume) *batchv1.Job {
	c.Image = ip.syncImage
	c.SecurityContext = containerSecurityContext()
	c.Resources = syncResources(in)
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: childMeta(in, ip.tenant.Name, name, component),
		Spec: batchv1.JobSpec{
			BackoffLimit:          ptr.To[int32](2),
			ActiveDeadlineSeconds: ptr.To(deadline),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: runtimePodLabels(in, ip, component)},
				Spec: corev1.PodSpec{
					RestartPolicy:                corev1.RestartPolicyNever,
					ImagePullSecrets:             imagePullSecrets(ip),
					ServiceAccountName:           syncName(in),
					AutomountServiceAccountToken: ptr.To(false),
					EnableServiceLinks:           ptr.To(false),
					SecurityContext:              podSecurityContext(),
					Containers:                   []corev1.Container{c},
					Volumes:                      volumes,
				},
			},
		},
	}
}

// reconcileExport runs the export the Tenant asks for while it offboards. A Job's pod template
// cannot change, so a new request replaces the previous request's Job; the same request is
// never run twice.
func (r *Reconciler) reconcileExport(ctx context.Context, in *twv1.Integration, t *twv1.Tenant) error {
	if t.Spec.Export == nil || !in.MappingPersistent() {
		return nil
	}
	if exportarchive.Refusal(t.Spec.Export) != "" {
		// Neither sealed nor deliberately in clear (a Tenant stored before the CRD refused it), or
		// a recipient that is not an age key: no Job. The Tenant's status.export says why.
		return nil
	}
	live := &batchv1.Job{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: labels.ExportJobName(in.Name)}, live)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return err
	case !metav1.IsControlledBy(live, in):
		return fmt.Errorf("job %s exists and is not this Integration's", live.Name)
	case live.Annotations[labels.ExportRequestAnnotation] == t.Spec.Export.Request:
		return nil
	case !live.DeletionTimestamp.IsZero():
		// The previous request's Job is going; its deletion event brings us back.
		return nil
	default:
		return client.IgnoreNotFound(r.Client.Delete(ctx, live, client.PropagationPolicy(metav1.DeletePropagationBackground)))
	}
	version, _, err := r.keyringVersion(ctx, in, t)
	if err != nil {
		return err
	}
	ip := inputs{tenant: t, syncImage: r.SyncImage, pullSecrets: r.SyncImagePullSecrets, keyringVersion: version}
	_, err = r.apply.Apply(ctx, desiredExportJob(in, ip, t.Spec.Export))
	return err
}
