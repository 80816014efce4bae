package integration

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// An Integration without a mappingStore keeps its mapping on a claim the operator creates and
// owns, and its Deployment mounts that claim: a roll (every key rotation rolls the pods) keeps the
// mapping, so no patient is created twice at the destination.
func TestDefaultStoreMountsTheOperatorsClaim(t *testing.T) {
	ns := setupTenant(t, "st-default", true)
	in := newIntegration(ns, "durable")
	createIntegration(t, in)
	syncCredentials(t, in, "v1")
	markAvailable(t, in)
	waitCondition(t, in, twv1.ConditionReady, metav1.ConditionTrue, "")

	d, err := getDeployment(in)
	if err != nil {
		t.Fatal(err)
	}
	state := volume(d.Spec.Template.Spec, "state")
	if state.PersistentVolumeClaim == nil || state.PersistentVolumeClaim.ClaimName != "durable-state" {
		t.Fatalf("state volume %+v; want the claim durable-state", state.VolumeSource)
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "durable-state"}, pvc); err != nil {
		t.Fatalf("the state claim was not created: %v", err)
	}
	if !metav1.IsControlledBy(pvc, getIntegration(t, in)) {
		t.Errorf("state claim owners %+v; want the Integration as its controller", pvc.OwnerReferences)
	}
	if len(pvc.Spec.AccessModes) != 1 || pvc.Spec.AccessModes[0] != corev1.ReadWriteOnce {
		t.Errorf("state claim access modes %v, want ReadWriteOnce", pvc.Spec.AccessModes)
	}
	if d.Spec.Strategy.Type != "Recreate" {
		t.Errorf("strategy %s: a ReadWriteOnce claim needs Recreate", d.Spec.Strategy.Type)
	}
}

// Offboarding stops the workload but keeps the claim for the export Job.
func TestOffboardingKeepsTheStateClaim(t *testing.T) {
	ns := setupTenant(t, "st-offboard", true)
	in := newIntegration(ns, "kept-state")
	createIntegration(t, in)
	syncCredentials(t, in, "v1")
	markAvailable(t, in)
	waitCondition(t, in, twv1.IntegrationConditionMappingDurable, metav1.ConditionTrue, twv1.ReasonStateClaim)

	setTenantState(t, "st-offboard", twv1.TenantOffboarding)
	waitCondition(t, in, twv1.ConditionReady, metav1.ConditionFalse, twv1.ReasonTenantOffboarding)
	if !getIntegration(t, in).MappingPersistent() {
		t.Error("MappingPersistent is false for the default store: the export would skip it")
	}
	pvc := &corev1.PersistentVolumeClaim{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "kept-state-state"}, pvc); err != nil || !pvc.DeletionTimestamp.IsZero() {
		t.Errorf("state claim during offboarding: %v (deleting: %v); want it kept for the export", err, !pvc.DeletionTimestamp.IsZero())
	}
}

// Ephemeral storage is an explicit opt-in, reported as MappingDurable=False; no claim is made.
func TestEphemeralStoreIsFlagged(t *testing.T) {
	ns := setupTenant(t, "st-ephemeral", true)
	in := newIntegration(ns, "trial")
	withEphemeral(in)
	createIntegration(t, in)
	waitCondition(t, in, twv1.IntegrationConditionMappingDurable, metav1.ConditionFalse, twv1.ReasonEphemeralStorage)
	syncCredentials(t, in, "v1")
	testenv.Eventually(t, timeout, func() error {
		d, err := getDeployment(in)
		if err != nil {
			return err
		}
		if volume(d.Spec.Template.Spec, "state").EmptyDir == nil {
			return fmt.Errorf("state volume %+v, want an emptyDir", volume(d.Spec.Template.Spec, "state").VolumeSource)
		}
		return nil
	})
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "trial-state"}, &corev1.PersistentVolumeClaim{}); err == nil {
		t.Error("an ephemeral store got a claim")
	}
}

// A claim named like the operator's that someone else made is not adopted.
func TestForeignStateClaimIsNotAdopted(t *testing.T) {
	ns := setupTenant(t, "st-foreign", true)
	foreign := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "swapped-state"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: *ptrQuantity("1Gi")}}},
	}
	if err := k8s.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	in := newIntegration(ns, "swapped")
	createIntegration(t, in)
	waitCondition(t, in, twv1.ConditionReady, metav1.ConditionFalse, twv1.ReasonStateClaimConflict)
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(foreign), foreign); err != nil {
		t.Fatal(err)
	}
	if len(foreign.OwnerReferences) != 0 {
		t.Errorf("the foreign claim was adopted: owners %+v", foreign.OwnerReferences)
	}
	if _, err := getDeployment(in); err == nil {
		t.Error("a Deployment was built on a claim that is not the Integration's")
	}
}

func TestStateClaimValidation(t *testing.T) {
	tests := map[string]struct {
		store   twv1.SQLiteMappingStore
		wantMsg string
	}{
		"ephemeral with a claim": {store: twv1.SQLiteMappingStore{Ephemeral: true, ClaimName: "mine"},
			wantMsg: "mappingStore.sqlite.ephemeral keeps the mapping on an emptyDir and takes no claimName, size or storageClassName"},
		"size with a claim of one's own": {store: twv1.SQLiteMappingStore{ClaimName: "mine", Size: ptrQuantity("2Gi")},
			wantMsg: "mappingStore.sqlite.size and mappingStore.sqlite.storageClassName shape the claim the operator creates"},
		"zero size": {store: twv1.SQLiteMappingStore{Size: ptrQuantity("0")}, wantMsg: "mappingStore.sqlite.size must be above zero"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := newIntegration("default", "validation")
			withSQLite(tc.store)(in)
			err := k8s.Create(ctx, in)
			if err == nil {
				_ = k8s.Delete(ctx, in)
				t.Fatal("created")
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not say %q", err, tc.wantMsg)
			}
		})
	}

	in := newIntegration("default", "resize")
	withSQLite(twv1.SQLiteMappingStore{Size: ptrQuantity("2Gi"), StorageClassName: "fast"})(in)
	createIntegration(t, in)
	// The controller writes status meanwhile: an update that loses that race is tried again.
	update := func(mut func(*twv1.SQLiteMappingStore)) error {
		for {
			got := getIntegration(t, in)
			mut(got.Spec.MappingStore.SQLite)
			if err := k8s.Update(ctx, got); !apierrors.IsConflict(err) {
				return err
			}
		}
	}
	if err := update(func(s *twv1.SQLiteMappingStore) { s.Size = ptrQuantity("1Gi") }); err == nil || !strings.Contains(err.Error(), "mappingStore.sqlite.size cannot shrink") {
		t.Errorf("shrink: %v", err)
	}
	if err := update(func(s *twv1.SQLiteMappingStore) { s.StorageClassName = "slow" }); err == nil || !strings.Contains(err.Error(), "mappingStore.sqlite.storageClassName cannot change") {
		t.Errorf("change class: %v", err)
	}
	if err := update(func(s *twv1.SQLiteMappingStore) { s.Size = ptrQuantity("3Gi") }); err != nil {
		t.Errorf("growing the claim: %v", err)
	}
}
