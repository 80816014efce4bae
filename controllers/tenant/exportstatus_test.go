package tenant

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/labels"
)

func exportingTenant() *twv1.Tenant {
	t := newTenant("acme")
	t.Spec.Export = &twv1.TenantExport{Request: "ticket-42", ClaimName: "acme-export", Recipients: []twv1.AgeRecipient{practiceRecipient}}
	return t
}

// persistentIntegration keeps its mapping on the named claim; without one, on ephemeral storage.
func persistentIntegration(name string, claim string) twv1.Integration {
	in := twv1.Integration{ObjectMeta: metav1.ObjectMeta{Name: name}}
	in.Spec.MappingStore = &twv1.MappingStore{SQLite: &twv1.SQLiteMappingStore{ClaimName: claim, Ephemeral: claim == ""}}
	return in
}

func exportJob(integration, request string, cond batchv1.JobConditionType, completed time.Time) batchv1.Job {
	j := batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: labels.ExportJobName(integration),
		Annotations: map[string]string{labels.ExportRequestAnnotation: request}}}
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue, Message: "BackoffLimitExceeded"}}
	}
	if cond == batchv1.JobComplete {
		j.Status.CompletionTime = &metav1.Time{Time: completed}
	}
	return j
}

func TestExportStatus(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	done := now.Add(-time.Minute)
	a, b := persistentIntegration("a", "a-state"), persistentIntegration("b", "b-state")
	tests := map[string]struct {
		offboarding bool
		ins         []twv1.Integration
		jobs        []batchv1.Job
		wantPhase   twv1.ExportPhase
		wantCount   int
	}{
		"waits for offboarding":    {ins: []twv1.Integration{a}, wantPhase: twv1.ExportPending},
		"nothing persistent":       {offboarding: true, ins: []twv1.Integration{persistentIntegration("c", "")}, wantPhase: twv1.ExportFailed},
		"no Job yet":               {offboarding: true, ins: []twv1.Integration{a, b}, wantPhase: twv1.ExportRunning, wantCount: 2},
		"one of two done":          {offboarding: true, ins: []twv1.Integration{a, b}, jobs: []batchv1.Job{exportJob("a", "ticket-42", batchv1.JobComplete, done), exportJob("b", "ticket-42", "", done)}, wantPhase: twv1.ExportRunning, wantCount: 2},
		"a previous request's Job": {offboarding: true, ins: []twv1.Integration{a}, jobs: []batchv1.Job{exportJob("a", "ticket-41", batchv1.JobComplete, done)}, wantPhase: twv1.ExportRunning, wantCount: 1},
		"all done":                 {offboarding: true, ins: []twv1.Integration{a, b, persistentIntegration("c", "")}, jobs: []batchv1.Job{exportJob("a", "ticket-42", batchv1.JobComplete, done), exportJob("b", "ticket-42", batchv1.JobComplete, done)}, wantPhase: twv1.ExportSucceeded, wantCount: 2},
		"one failed":               {offboarding: true, ins: []twv1.Integration{a, b}, jobs: []batchv1.Job{exportJob("a", "ticket-42", batchv1.JobComplete, done), exportJob("b", "ticket-42", batchv1.JobFailed, done)}, wantPhase: twv1.ExportFailed, wantCount: 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := exportStatus(exportingTenant(), tc.offboarding, tc.ins, tc.jobs, nil, now)
			if st.Phase != tc.wantPhase || len(st.Integrations) != tc.wantCount || st.Request != "ticket-42" {
				t.Fatalf("got %+v, want phase %s with %d integrations", st, tc.wantPhase, tc.wantCount)
			}
			if st.Location != "PersistentVolumeClaim acme-export in namespace tenant-acme, directory ticket-42/" {
				t.Errorf("location %q", st.Location)
			}
			if (st.CompletedAt != nil) != (tc.wantPhase == twv1.ExportSucceeded) || (st.CompletedAt != nil && !st.CompletedAt.Time.Equal(done)) {
				t.Errorf("completedAt %v, want %v only when succeeded", st.CompletedAt, done)
			}
			if st.Message == "" {
				t.Error("no message")
			}
		})
	}
	if st := exportStatus(newTenant("acme"), true, []twv1.Integration{a}, nil, nil, now); st != nil {
		t.Errorf("no export requested, status %+v", st)
	}
}
