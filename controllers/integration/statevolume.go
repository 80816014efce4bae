package integration

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
)

// The state volume holds the SQLite mapping. By default it is a PersistentVolumeClaim the operator
// creates and owns, <integration>-state, so the mapping survives every roll of the sync pods (a
// key rotation rolls them) and the Deployment's Recreate strategy lets the new pod mount the
// ReadWriteOnce claim once the old one is gone. The claim goes with the Integration (owner
// reference); a Tenant's purge destroys its keyring first, which makes every row on it unreadable,
// then its namespace with the claim. Offboarding deletes the Deployment but keeps the claim for
// the export Job.

// stateClaimName is the name of the claim the operator creates.
func stateClaimName(in *twv1.Integration) string { return in.Name + "-state" }

func sqliteStore(in *twv1.Integration) *twv1.SQLiteMappingStore {
	if in.Spec.MappingStore == nil {
		return nil
	}
	return in.Spec.MappingStore.SQLite
}

// ownsStateClaim says the operator creates the state claim: SQLite without a claim of the user's
// own and without the ephemeral opt-in.
func ownsStateClaim(in *twv1.Integration) bool {
	if postgresStore(in) != nil {
		return false
	}
	s := sqliteStore(in)
	return s == nil || (s.ClaimName == "" && !s.Ephemeral)
}

// stateClaim is the PersistentVolumeClaim of the state volume, empty for an emptyDir (ephemeral
// SQLite, or PostgreSQL, which keeps nothing on it).
func stateClaim(in *twv1.Integration) string {
	if ownsStateClaim(in) {
		return stateClaimName(in)
	}
	if s := sqliteStore(in); s != nil && postgresStore(in) == nil {
		return s.ClaimName
	}
	return ""
}

// desiredStateClaim is the claim the operator creates for the state volume.
func desiredStateClaim(in *twv1.Integration, ip inputs) *corev1.PersistentVolumeClaim {
	size := resource.MustParse(twv1.DefaultStateClaimSize)
	spec := corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}}
	if s := sqliteStore(in); s != nil {
		if s.Size != nil {
			size = s.Size.DeepCopy()
		}
		if s.StorageClassName != "" {
			spec.StorageClassName = &s.StorageClassName
		}
	}
	spec.Resources.Requests = corev1.ResourceList{corev1.ResourceStorage: size}
	return &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: childMeta(in, ip.tenant.Name, stateClaimName(in), "sync"),
		Spec:       spec,
	}
}

// mappingDurability is the MappingDurable condition's status, reason and message.
func mappingDurability(in *twv1.Integration) (metav1.ConditionStatus, string, string) {
	switch {
	case postgresStore(in) != nil:
		return metav1.ConditionTrue, twv1.ReasonPostgreSQL, "The mapping is kept in PostgreSQL"
	case !in.MappingPersistent():
		return metav1.ConditionFalse, twv1.ReasonEphemeralStorage, "mappingStore.sqlite.ephemeral keeps the mapping on an emptyDir: " +
			"every roll of the sync pods (key and credential rotations included) starts from an empty mapping and creates every record " +
			"again at the destination, and an export after offboarding finds nothing. Use it for trials only"
	case ownsStateClaim(in):
		return metav1.ConditionTrue, twv1.ReasonStateClaim, fmt.Sprintf("The mapping is kept on the PersistentVolumeClaim %s", stateClaimName(in))
	default:
		return metav1.ConditionTrue, twv1.ReasonClaimProvided, fmt.Sprintf("The mapping is kept on the PersistentVolumeClaim %s", stateClaim(in))
	}
}

// setMappingDurable writes the MappingDurable condition.
func setMappingDurable(st *twv1.IntegrationStatus, in *twv1.Integration, now metav1.Time) {
	status, reason, msg := mappingDurability(in)
	if status == metav1.ConditionTrue {
		conditions.True(&st.Conditions, in.Generation, twv1.IntegrationConditionMappingDurable, reason, msg, now)
		return
	}
	conditions.False(&st.Conditions, in.Generation, twv1.IntegrationConditionMappingDurable, reason, msg, now)
}

// checkStateClaim refuses to adopt a claim named like the operator's that is not this
// Integration's: someone else's volume would then hold the mapping, and go with the Integration.
// The child watch sees only labelled claims; a claim it knows is checked by the apply, anything
// else costs one read, until the operator's claim exists.
func (r *Reconciler) checkStateClaim(ctx context.Context, in *twv1.Integration) (*conditions.Problem, error) {
	if !ownsStateClaim(in) {
		return nil, nil
	}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: in.Namespace, Name: stateClaimName(in)}}
	gvk := corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim")
	if r.Children.Watched(gvk) {
		if _, exists, err := r.Children.Stamp(gvk, client.ObjectKeyFromObject(pvc)); err != nil || exists {
			return nil, err
		}
	}
	var reader client.Reader = r.Client
	if r.APIReader != nil {
		reader = r.APIReader
	}
	switch err := reader.Get(ctx, client.ObjectKeyFromObject(pvc), pvc); {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, err
	case metav1.IsControlledBy(pvc, in):
		return nil, nil
	}
	return &conditions.Problem{Reason: twv1.ReasonStateClaimConflict, Message: fmt.Sprintf(
		"The PersistentVolumeClaim %s exists and is not this Integration's; the operator does not adopt it. "+
			"Delete or rename it, or name it in mappingStore.sqlite.claimName to use it as your own", stateClaimName(in))}, nil
}
