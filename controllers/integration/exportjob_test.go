package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

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

// practiceRecipient is an age X25519 public key (its secret key was discarded); brokenRecipient
// is the same key with its checksum broken, which CEL cannot tell from a real one.
const (
	practiceRecipient = "age1gd289yuhm74w4lxwpzd6ln27fvxlgfsfxrj422wkfdjhmck4dq3qez334m"
	brokenRecipient   = "age1gd289yuhm74w4lxwpzd6ln27fvxlgfsfxrj422wkfdjhmck4dq3qez334n"
)

func requestExport(t *testing.T, tenant, request string, recipients ...twv1.AgeRecipient) {
	t.Helper()
	tn := &twv1.Tenant{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: tenant}, tn); err != nil {
		t.Fatal(err)
	}
	if len(recipients) == 0 {
		recipients = []twv1.AgeRecipient{practiceRecipient}
	}
	tn.Spec.State = twv1.TenantOffboarding
	tn.Spec.Export = &twv1.TenantExport{Request: request, ClaimName: tenant + "-export", Recipients: recipients}
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
	if args := job.Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, practiceRecipient) || slices.Contains(args, "--plaintext") {
		t.Errorf("export args %v do not seal the export to the Tenant's recipient", args)
	}
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

// A recipient that looks like an age key but is not one (CEL checks the shape, not the checksum)
// runs no export at all: the Job would otherwise fail in the pod, or worse, write in clear.
func TestExportWithAnInvalidRecipientRunsNoJob(t *testing.T) {
	ns := setupTenant(t, "eta-export", true)
	pg := newIntegration(ns, "kept")
	withPostgres()(pg)
	createIntegration(t, pg)
	syncCredentials(t, pg, "v1")
	markAvailable(t, pg)
	waitCondition(t, pg, twv1.ConditionReady, metav1.ConditionTrue, "")

	requestExport(t, "eta-export", "r1", brokenRecipient)
	st := waitTenantExport(t, "eta-export", "r1", twv1.ExportFailed)
	if !strings.Contains(st.Message, "spec.export.recipients[0] is not a valid age X25519 public key") {
		t.Errorf("refusal message %q", st.Message)
	}
	// The Integration controller reconciled the same Tenant change; give it time to (wrongly) act.
	time.Sleep(2 * time.Second)
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: labels.ExportJobName(pg.Name)}, &batchv1.Job{}); !apierrors.IsNotFound(err) {
		t.Fatalf("an export Job exists for a refused request (err=%v)", err)
	}

	// Fixing the recipient runs the export.
	requestExport(t, "eta-export", "r1", practiceRecipient)
	waitExportJob(t, pg, "r1")
}
