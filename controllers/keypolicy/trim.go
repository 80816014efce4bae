package keypolicy

import (
	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/keyring"
)

// trimDecision is what the trim guard keeps of a keyring.
type trimDecision struct {
	keyring *keyring.Keyring
	// held is the number of versions kept beyond retention, lagging the consumers that hold them.
	held, lagging int
}

// decideTrim drops the versions beyond retain before the active one only when no consumer can
// still hold mapping rows under them. The contract is the consumers' status: the Integration
// controller reports in status.keyring.rewrappedVersion the version its sync workload proved its
// store is under (see the Integration controller's rewrappedVersion), and once every consumer
// reports the active version, the older versions decrypt nothing. A consumer that reports no
// version (paused, stopped, suspended, not yet started, mid-rollout) or an older one has not
// rewrapped: its store may well hold rows under an old version, so it holds the versions until
// it has run on the active one. Adding a version is never held up, only dropping one.
func decideTrim(kr *keyring.Keyring, retain int, consumers []twv1.Integration) trimDecision {
	extra := len(kr.Versions) - (retain + 1)
	if extra <= 0 {
		return trimDecision{keyring: kr}
	}
	lagging := 0
	for i := range consumers {
		if !rewrappedTo(&consumers[i], kr.Active) {
			lagging++
		}
	}
	if lagging > 0 {
		return trimDecision{keyring: kr, held: extra, lagging: lagging}
	}
	return trimDecision{keyring: keyring.Trim(kr, retain)}
}

// rewrappedTo reports whether a consumer's status says its store is under the active version.
func rewrappedTo(in *twv1.Integration, active int32) bool {
	return in.Status.Keyring != nil && in.Status.Keyring.RewrappedVersion == active
}
