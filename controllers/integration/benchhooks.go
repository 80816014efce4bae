package integration

import (
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// DesiredObjects is every object the controller converges an Integration to once its credentials
// are synced (credentialsHash and keyringVersion as the pod template would carry them), as
// applyChildren and rollOut apply them. The scale
// benchmark creates the same objects with a plain client to measure the floor; the sync
// configuration carries the default host allowlist, as a manager without host flags renders it.
func DesiredObjects(in *twv1.Integration, t *twv1.Tenant, syncImage, credentialsHash, keyringVersion string) ([]client.Object, error) {
	ip := inputs{tenant: t, syncImage: syncImage, credentialsHash: credentialsHash, keyringVersion: keyringVersion, hosts: defaultHostPolicy}
	cm, err := desiredConfigMap(in, ip)
	if err != nil {
		return nil, err
	}
	objs := []client.Object{
		desiredServiceAccount(in, ip), desiredReaderRole(in, ip), desiredReaderRoleBinding(in, ip), cm, desiredEgressPolicy(in, ip),
	}
	// As applyChildren adds them: the token writer's channel and the state claim.
	if len(rotatingSides(in)) > 0 {
		objs = append(objs, tokenWriterChildren(in, ip)...)
	}
	if ownsStateClaim(in) {
		objs = append(objs, desiredStateClaim(in, ip))
	}
	for _, s := range credentialSides(in) {
		objs = append(objs, desiredExternalSecret(in, ip, s))
	}
	return append(objs, desiredDeployment(in, ip, cm)), nil
}
