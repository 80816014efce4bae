package integration

import (
	"cmp"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// A sync Deployment is applied with the Integration's other children, before its credentials have
// synced from the vault: the Deployment controller creates its ReplicaSet and pod while External
// Secrets Operator syncs, and the pod waits for its credential volumes. (Applied only after the
// sync, the last few hundred Deployments of a thousand tenants waited on that controller at the
// end; see docs/benchmarks.md.) Its pods therefore start on the credentials they find, and the pod
// template carries no credentials digest until the credentials change under running pods: then
// tenantwire.io/credentials-hash is set to the new digest, which rolls them. What the pods run on
// is recorded in status.credentialsHash.

// templateCredentials decides the credentials digest of the pod template and whether setting it
// rolls the pods onto new credentials. template is the live template's digest ("" for pods that
// started on the credentials they found), recorded the digest those pods are known to run on ("" when
// none was recorded), current the digest of the synced Secrets, and exists whether the Deployment
// exists at all: the pods of a new one start on current whatever the template says.
func templateCredentials(template, recorded, current string, exists bool) (digest string, rolls bool) {
	running := cmp.Or(template, recorded)
	if !exists || running == "" || running == current {
		return template, false
	}
	return current, true
}

// awaitsCredentials reports whether a sync Deployment's pods have never been given credentials:
// nothing is synced yet, and no digest says the pods ever ran on any. Such a workload is judged
// by its credentials, not by its Deployment (whose pod waits for its volumes), and may be
// applied: nothing runs on it that an apply could roll onto missing credentials.
func awaitsCredentials(synced bool, template, recorded string, exists bool) bool {
	return !synced && (!exists || cmp.Or(template, recorded) == "")
}

// rolledTemplate is what this process last applied to a Deployment's pod template credentials
// digest, and the generation that write gave it: a cache that still shows an older generation of
// the same Deployment is read as holding this digest. Without it, a reconcile right after a roll
// would read the template as it was before ("" for pods that started on what they found) and
// apply it again, rolling the pods back.
type rolledTemplate struct {
	uid        types.UID
	generation int64
	digest     string
}

// liveTemplateCredentials is the credentials digest of the live pod template, "" when there is no
// Deployment.
func (r *Reconciler) liveTemplateCredentials(key client.ObjectKey, live *appsv1.Deployment) string {
	if live == nil {
		return ""
	}
	if v, ok := r.rolledTemplates.Load(key); ok {
		if m := v.(rolledTemplate); m.uid == live.UID && live.Generation < m.generation {
			return m.digest
		}
	}
	return live.Spec.Template.Annotations[CredentialsHashAnnotation]
}

// recordedCredentials is the digest the Integration's pods are known to run on: this process's
// last record, or status.credentialsHash. The status in the cache may be older than this process's
// last write of it.
func (r *Reconciler) recordedCredentials(key client.ObjectKey, in *twv1.Integration) string {
	if v, ok := r.runningCredentials.Load(key); ok {
		return v.(string)
	}
	return in.Status.CredentialsHash
}
