package tenant

import (
	"fmt"
	"slices"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/exportarchive"
	"github.com/tenantwire/tenantwire/internal/labels"
)

// exportStatus is a pure function of the Tenant, whether it is offboarding, its Integrations and
// their export Jobs: where the export spec.export asks for stands. prev keeps the completion time
// of a finished export stable across reconciles.
func exportStatus(t *twv1.Tenant, offboarding bool, ins []twv1.Integration, jobs []batchv1.Job, prev *twv1.TenantExportStatus, now metav1.Time) *twv1.TenantExportStatus {
	req := t.Spec.Export
	if req == nil {
		return nil
	}
	st := &twv1.TenantExportStatus{
		Request:  req.Request,
		Location: fmt.Sprintf("PersistentVolumeClaim %s in namespace %s, directory %s/", req.ClaimName, t.NamespaceName(), req.Request),
	}
	if refusal := exportarchive.Refusal(req); refusal != "" {
		st.Phase = twv1.ExportFailed
		st.Message = refusal
		return st
	}
	st.Encryption = req.Encryption()
	if !offboarding {
		st.Phase = twv1.ExportPending
		st.Message = "The export runs once the tenant is offboarding (spec.state Offboarding, or the Tenant deleted)"
		return st
	}
	for _, in := range ins {
		if in.MappingPersistent() {
			st.Integrations = append(st.Integrations, in.Name)
		}
	}
	slices.Sort(st.Integrations)
	if len(st.Integrations) == 0 {
		st.Phase = twv1.ExportFailed
		st.Message = "No Integration keeps its mapping on a persistent store (every one uses mappingStore.sqlite.ephemeral): there is nothing to export"
		return st
	}
	byName := map[string]*batchv1.Job{}
	for i := range jobs {
		byName[jobs[i].Name] = &jobs[i]
	}
	var done, failed []string
	var completed *metav1.Time
	for _, name := range st.Integrations {
		job := byName[labels.ExportJobName(name)]
		if job == nil || job.Annotations[labels.ExportRequestAnnotation] != req.Request {
			continue
		}
		if c := jobCondition(job, batchv1.JobFailed); c != nil {
			failed = append(failed, fmt.Sprintf("%s: %s", name, c.Message))
			continue
		}
		if jobCondition(job, batchv1.JobComplete) != nil {
			done = append(done, name)
			if t := job.Status.CompletionTime; t != nil && (completed == nil || completed.Before(t)) {
				completed = t
			}
		}
	}
	switch {
	case len(failed) > 0:
		st.Phase = twv1.ExportFailed
		st.Message = "Export Jobs failed (see their pods' logs): " + strings.Join(failed, "; ")
	case len(done) == len(st.Integrations):
		st.Phase = twv1.ExportSucceeded
		st.Message = fmt.Sprintf("Exported %d Integrations' patient-ID mappings, %s", len(done), sealedTo(req))
		st.CompletedAt = completed
		if st.CompletedAt == nil {
			st.CompletedAt = &now
			if prev != nil && prev.Request == st.Request && prev.CompletedAt != nil {
				st.CompletedAt = prev.CompletedAt
			}
		}
	default:
		st.Phase = twv1.ExportRunning
		st.Message = fmt.Sprintf("%d of %d Integrations exported", len(done), len(st.Integrations))
	}
	return st
}

func jobCondition(job *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i, c := range job.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return &job.Status.Conditions[i]
		}
	}
	return nil
}

// sealedTo says how the files were written, for the status message and the event.
func sealedTo(req *twv1.TenantExport) string {
	if req.Encryption() == twv1.ExportEncryptionNone {
		return "IN CLEAR (spec.export.plaintext: true); each file's manifest lists its SHA-256"
	}
	return fmt.Sprintf("sealed with age to %d recipients; each file's manifest lists its SHA-256", len(req.Recipients))
}
