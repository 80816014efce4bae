package keypolicy

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/labels"
)

// tenantResult is what one reconcile found for a tenant; keyringReport turns it into the Tenant's
// status.keyring.
type tenantResult struct {
	// keyring is the keyring as written (or found, when nothing could be written); nil when none.
	keyring *keyring.Keyring
	// next is when generated keys rotate next; zero for external keys or when unknown.
	next    time.Time
	problem *conditions.Problem
	// held counts the versions kept beyond retention because lagging of the tenant's consumers
	// have not rewrapped onto the active version.
	held, lagging int
	// rotated is set once a new version reached the API server.
	rotated bool
}

// keyringReport is a pure function of the policy, the tenant (its previous report), what the
// reconcile found and whether it completed. A rotate-now request counts as carried out once the
// keyring was written with a new version, or when the reconcile completed without rotating
// because nothing but the user can make this tenant rotate (a stalled keyring, or external keys),
// so that one tenant never holds a request up for the others.
func keyringReport(kp *twv1.KeyPolicy, t *twv1.Tenant, res tenantResult, onDemand, completed bool) *twv1.TenantKeyringStatus {
	st := &twv1.TenantKeyringStatus{Policy: kp.Name, PolicyGeneration: kp.Generation}
	if prev := t.Status.Keyring; prev != nil {
		st.RotationRequest = prev.RotationRequest
	}
	if onDemand && (res.rotated || (completed && (res.problem == nil || res.problem.Stalled))) {
		st.RotationRequest = kp.Spec.RotateNow.Request
	}
	if kr := res.keyring; kr != nil {
		st.ActiveVersion = kr.Active
		st.Versions = kr.VersionNumbers()
		st.Fingerprint = kr.ActiveVersion().Fingerprint()
		last := metav1.NewTime(kr.ActiveVersion().Created.UTC().Truncate(time.Second))
		st.LastRotation = &last
	}
	if !res.next.IsZero() {
		n := metav1.NewTime(res.next.UTC().Truncate(time.Second))
		st.NextRotation = &n
	}
	st.HeldVersions, st.LaggingConsumers = int32(res.held), int32(res.lagging)
	if p := res.problem; p != nil {
		st.Reason, st.Message, st.Stalled = p.Reason, p.Message, p.Stalled
	}
	return st
}

// namespaceReady reports whether the tenant's namespace is ready for its keyring.
func namespaceReady(t *twv1.Tenant) bool {
	return conditions.IsTrue(t.Status.Conditions, twv1.TenantConditionNamespaceReady)
}

// notReadyReport is what the policy's status counts for a tenant whose namespace is not ready: the
// keyring controller writes no report for it (at creation that would be a write per tenant that
// the next one replaces), and the Tenant's own condition says it all.
var notReadyReport = twv1.TenantKeyringStatus{Reason: twv1.ReasonTenantNotReady, Message: "waiting for the tenant namespace"}

// reported reports whether the Tenant's status.keyring already shows the problem, so that the
// event announcing it is recorded once, not once per reconcile nor again after a restart.
func reported(t *twv1.Tenant, p *conditions.Problem) bool {
	prev := t.Status.Keyring
	return prev != nil && prev.Reason == p.Reason && prev.Message == p.Message
}

// rotationRequested reports whether the policy's spec.rotateNow names the tenant and the tenant
// has not yet reported carrying it out.
func rotationRequested(kp *twv1.KeyPolicy, t *twv1.Tenant) bool {
	rn := kp.Spec.RotateNow
	if !rn.Names(t.Name) {
		return false
	}
	return t.Status.Keyring == nil || t.Status.Keyring.RotationRequest != rn.Request
}

// liveRotationRequested is rotationRequested on the Tenant as the API server has it: the cache may
// not yet hold the report of the rotation that carried the request out.
func (r *Reconciler) liveRotationRequested(ctx context.Context, kp *twv1.KeyPolicy, t *twv1.Tenant) (bool, error) {
	live := &twv1.Tenant{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(t), live); err != nil {
		return false, err
	}
	return rotationRequested(kp, live), nil
}

// heldBack reports whether next is a report not to write yet: the tenant's first report on this
// generation of the policy, with nothing to say but that new consumers are settling. The settle
// ends within seconds and the reconcile requeues for it; the report then written replaces this
// one, so writing both cost a tenant created with its Integrations three status writes instead of
// one. Meanwhile the policy's status waits for the tenant to report on this generation
// (reconcileStatus), so it is not Ready early. A carried-out rotation request is never held back:
// the report is what keeps the next reconcile from rotating again.
func heldBack(kp *twv1.KeyPolicy, t *twv1.Tenant, next *twv1.TenantKeyringStatus) bool {
	if next.Reason != twv1.ReasonConsumersSettling || reportsOn(t, kp) {
		return false
	}
	carried := ""
	if prev := t.Status.Keyring; prev != nil {
		carried = prev.RotationRequest
	}
	return next.RotationRequest == carried
}

// writeReport writes the Tenant's status.keyring when it differs from the cached one, and nothing
// else of its status: the Tenant controller writes the rest, and neither writes the other's fields.
// The patch replaces the whole report whatever the cache held (reportPatch): a patch computed
// against a cache that had not yet seen the previous report kept that report's reason after the
// problem had cleared.
func (r *Reconciler) writeReport(ctx context.Context, t *twv1.Tenant, report *twv1.TenantKeyringStatus) error {
	if equality.Semantic.DeepEqual(t.Status.Keyring, report) {
		return nil
	}
	patch, err := reportPatch(report)
	if err != nil {
		return err
	}
	t.Status.Keyring = report
	if err := r.Client.Status().Patch(ctx, t, patch, client.FieldOwner(labels.FieldOwner(ControllerName))); err != nil {
		return err
	}
	r.awaitCachedTenant(ctx, t.Name, func(cached *twv1.Tenant) bool {
		return equality.Semantic.DeepEqual(cached.Status.Keyring, report)
	})
	return nil
}

// reportFields are the JSON names of every field of a report.
var reportFields = func() []string {
	var names []string
	rt := reflect.TypeFor[twv1.TenantKeyringStatus]()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}()

// reportPatch is a JSON merge patch that sets status.keyring to report on any stored Tenant: every
// field the report leaves out is sent as null, which removes it. The report's fields are scalars
// and an atomic list, so the merge replaces each whole.
func reportPatch(report *twv1.TenantKeyringStatus) (client.Patch, error) {
	raw, err := json.Marshal(report)
	if err != nil {
		return nil, err
	}
	fields := map[string]any{}
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	for _, name := range reportFields {
		if _, ok := fields[name]; !ok {
			fields[name] = nil
		}
	}
	body, err := json.Marshal(map[string]any{"status": map[string]any{"keyring": fields}})
	if err != nil {
		return nil, err
	}
	return client.RawPatch(types.MergePatchType, body), nil
}
