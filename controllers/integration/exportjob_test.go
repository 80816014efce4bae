package integration

import (
	"fmt"
	"testing"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

func requestExport(t *testing.T, tenant, request string) {
	t.Helper()
	tn := &twv1.Tenant{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: tenant}, tn); err != nil {
		t.Fatal(err)
	}
	tn.Spec.State = twv1.TenantOffboarding
	tn.Spec.Export = &twv1.TenantExport{Request: request, ClaimName: tenant + "-export"}
	if err := k8s.Update(ctx, tn); err != nil {
		t.Fatal(err)
	}
}

func waitExportJob(t *testing.T, in *twv1.Integration, request string) *batchv1.Job {
	t.Helper()
	job := &batchv1.Job{}
	testenv.Eventually(t, timeout, func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: in.Namespace, Name: labels.ExportJobName(in.Name)}, job); err != nil {
			return err
		}
		if got := job.Annotations[labels.ExportRequestAnnotation]; got != request {
			return fmt.Errorf("export Job runs request %q, want %q", got, request)
		}
		return nil
	})
	return job
}

// completeJob plays the Job controller, which envtest does not run.
func completeJob(t *testing.T, job *batchv1.Job) {
	t.Helper()
	now := metav1.Now()
	job.Status = batchv1.JobStatus{StartTime: &now, CompletionTime: &now, Succeeded: 1,
		Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}}
	if err := k8s.Status().Update(ctx, job); err != nil {
		t.Fatal(err)
	}
}

func waitTenantExport(t *testing.T, tenant, request string, phase twv1.ExportPhase) *twv1.TenantExportStatus {
	t.Helper()
	tn := &twv1.Tenant{}
	testenv.Eventually(t, timeout, func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Name: tenant}, tn); err != nil {
			return err
		}
		if st := tn.Status.Export; st == nil || st.Request != request || st.Phase != phase {
			return fmt.Errorf("tenant export status %+v, want %s %s", st, request, phase)
		}
		return nil
	})
	return tn.Status.Export
}

func TestOffboardingExportRunsAJobPerPersistentIntegration(t *testing.T) {
	ns := setupTenant(t, "zeta", true)
	pg := newIntegration(ns, "kept")
	withPostgres()(pg)
	createIntegration(t, pg)
	syncCredentials(t, pg, "v1")
	markAvailable(t, pg)
	waitCondition(t, pg, twv1.ConditionReady, metav1.ConditionTrue, "")
	ephemeral := newIntegration(ns, "ephemeral")
	withEphemeral(ephemeral)
	createIntegration(t, ephemeral)

	requestExport(t, "zeta", "r1")
	job := waitExportJob(t, pg, "r1")
	if got := job.Spec.Template.Spec.ServiceAccountName; got != syncName(pg) {
		t.Errorf("export runs as %s, want the Integration's sync identity", got)
	}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: labels.ExportJobName(ephemeral.Name)}, &batchv1.Job{}); !apierrors.IsNotFound(err) {
		t.Errorf("an emptyDir Integration got an export Job (err=%v): its mapping went with its pods", err)
	}
	// The vendors' credentials leave; the store's password stays for the export.
	testenv.Eventually(t, timeout, func() error {
		for _, s := range vendorSides {
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: credentialsName(pg, s)}, &esv1.ExternalSecret{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("%s credentials still present (err=%v)", s, err)
			}
		}
		return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: credentialsName(pg, storeSide)}, &esv1.ExternalSecret{})
	})
	st := waitTenantExport(t, "zeta", "r1", twv1.ExportRunning)
	if len(st.Integrations) != 1 || st.Integrations[0] != "kept" {
		t.Errorf("exported integrations %v, want [kept]", st.Integrations)
	}

	completeJob(t, job)
	st = waitTenantExport(t, "zeta", "r1", twv1.ExportSucceeded)
	if st.CompletedAt == nil || st.Location == "" {
		t.Errorf("finished export lacks its completion time or location: %+v", st)
	}

	// A new request replaces the Job; the finished request is not run again.
	requestExport(t, "zeta", "r2")
	job = waitExportJob(t, pg, "r2")
	if len(job.Status.Conditions) != 0 {
		t.Errorf("the r2 Job carries r1's result: %+v", job.Status.Conditions)
	}
	waitTenantExport(t, "zeta", "r2", twv1.ExportRunning)
}
