package keypolicy

import (
	"context"
	"fmt"
	"strconv"

	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/keyring"
)

// keyringRecord is what the operator knows a tenant's keyring held: its active version and that
// version's fingerprint. It lives in the Tenant's annotations (twv1.KeyringVersionAnnotation and
// twv1.KeyringFingerprintAnnotation) because it must outlive the keyring Secret, its namespace
// and the operator's memory, and must hold no key material. The Tenant is already in the cache and
// watched by this controller; a KeyPolicy's status would not do, as a tenant may change policy and
// a status is rebuilt from the keyrings the record is meant to check. It is written once per
// creation or rotation, never in a steady state.
type keyringRecord struct {
	version     int32
	fingerprint string
}

// recordOf reads a tenant's record; ok is false when it has none.
func recordOf(t *twv1.Tenant) (rec keyringRecord, ok bool) {
	v, fp, ok := t.KeyringRecord()
	return keyringRecord{version: v, fingerprint: fp}, ok
}

// recordFor is the record of a keyring: its active version.
func recordFor(kr *keyring.Keyring) keyringRecord {
	return keyringRecord{version: kr.Active, fingerprint: kr.ActiveVersion().Fingerprint()}
}

// heldBy reports whether a keyring still has the recorded version with the recorded keys. Versions
// older than the active one are trimmed over time, the recorded one is not: it was active when
// recorded, and a rotation records its successor.
func (rec keyringRecord) heldBy(kr *keyring.Keyring) bool {
	if kr == nil {
		return false
	}
	v := kr.Get(rec.version)
	return v != nil && v.Fingerprint() == rec.fingerprint
}

// lossDecision is what a tenant's record says about the keyring found.
type lossDecision struct {
	// problem is set when the keyring is lost and the loss is not acknowledged: nothing is written.
	problem *conditions.Problem
	// acknowledged is set when the loss is acknowledged: the keyring found (or, when there is none,
	// a new one numbered after the lost version) replaces the recorded one.
	acknowledged bool
	lost         keyringRecord
}

// decideLoss compares the keyring found (nil when the Secret is gone) with the tenant's record. A
// tenant that had a keyring never gets another one silently: only the acknowledgement annotation,
// naming the lost fingerprint, lets it.
func decideLoss(t *twv1.Tenant, current *keyring.Keyring) lossDecision {
	rec, had := recordOf(t)
	if !had || rec.heldBy(current) {
		return lossDecision{}
	}
	if t.Annotations[twv1.AcknowledgeKeyringLossAnnotation] == rec.fingerprint {
		return lossDecision{acknowledged: true, lost: rec}
	}
	found := fmt.Sprintf("its %s Secret is gone", keyring.SecretName)
	if current != nil {
		found = fmt.Sprintf("its %s Secret holds active version %d (fingerprint %s) instead, which is neither used nor changed",
			keyring.SecretName, current.Active, current.ActiveVersion().Fingerprint())
	}
	msg := fmt.Sprintf("tenant %s had keyring version %d (fingerprint %s) and %s; no new keyring is created. "+
		"Restore the Secret from a backup, or accept that data sealed under it is unreadable by annotating the Tenant %s=%s",
		t.Name, rec.version, rec.fingerprint, found, twv1.AcknowledgeKeyringLossAnnotation, rec.fingerprint)
	return lossDecision{lost: rec, problem: &conditions.Problem{Reason: twv1.ReasonKeyringLost, Message: msg, Stalled: true}}
}

// writeRecord records the keyring on the Tenant when the record differs. It runs after the keyring
// was written: were it the other way round, a failed keyring write would leave a record of a
// version that never existed and the tenant reported as lost. The one window left fails safe: an
// operator that stops between a rotation's keyring write and this one, when that write also
// trimmed the recorded version, reports the tenant as KeyringLost, never the reverse.
func (r *Reconciler) writeRecord(ctx context.Context, t *twv1.Tenant, kr *keyring.Keyring) error {
	want := recordFor(kr)
	if rec, ok := recordOf(t); ok && rec == want {
		return nil
	}
	patch := client.MergeFrom(t.DeepCopy())
	if t.Annotations == nil {
		t.Annotations = map[string]string{}
	}
	t.Annotations[twv1.KeyringVersionAnnotation] = strconv.Itoa(int(want.version))
	t.Annotations[twv1.KeyringFingerprintAnnotation] = want.fingerprint
	if err := r.Client.Patch(ctx, t, patch); err != nil {
		return err
	}
	r.awaitCachedTenant(ctx, t.Name, func(cached *twv1.Tenant) bool {
		rec, ok := recordOf(cached)
		return ok && rec == want
	})
	return nil
}
