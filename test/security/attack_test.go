package security

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/keyring"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
)

// attacker is a subject's own connection to the API server.
type attacker struct {
	config    *rest.Config
	client    client.Client
	clientset kubernetes.Interface
}

func connect(t *testing.T, s subject) attacker {
	t.Helper()
	user, err := authenticate(s)
	if err != nil {
		t.Fatal(err)
	}
	cfg := user.Config()
	c, err := client.New(cfg, client.Options{Scheme: twscheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return attacker{config: cfg, client: c, clientset: cs}
}

// dryRun sends writes through authentication, authorization and admission without persisting them.
var dryRun = client.DryRunAll

// attacks are the requests behind the access table's rows, sent for real by each subject. Writes
// are dry runs, except the token request, which the API server does not dry-run: a token it mints
// here is never printed.
var attacks = map[string]func(a attacker) error{
	"get the tenant-alpha keyring": func(a attacker) error {
		return a.client.Get(ctx, client.ObjectKey{Namespace: nsA, Name: keyring.SecretName}, &corev1.Secret{})
	},
	"get the tenant-bravo keyring": func(a attacker) error {
		return a.client.Get(ctx, client.ObjectKey{Namespace: nsB, Name: keyring.SecretName}, &corev1.Secret{})
	},
	"get a credential Secret": func(a attacker) error {
		return a.client.Get(ctx, client.ObjectKey{Namespace: nsA, Name: alphaCredential}, &corev1.Secret{})
	},
	"list Secrets": func(a attacker) error {
		return a.client.List(ctx, &corev1.SecretList{}, client.InNamespace(nsA))
	},
	// Planting a Secret, rewriting or deleting credentials, changing the keyring.
	"create a Secret": func(a attacker) error {
		return a.client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: "planted"}}, dryRun)
	},
	"update a credential Secret": func(a attacker) error {
		s := &corev1.Secret{}
		if err := a.client.Get(ctx, client.ObjectKey{Namespace: nsA, Name: alphaCredential}, s); err != nil {
			return err
		}
		s.Data = map[string][]byte{"token": []byte("attacker-controlled")}
		return a.client.Update(ctx, s, dryRun)
	},
	"delete a credential Secret": func(a attacker) error {
		return a.client.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: alphaCredential}}, dryRun)
	},
	"patch the keyring": func(a attacker) error {
		return a.client.Patch(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: keyring.SecretName}},
			client.RawPatch(types.MergePatchType, []byte(`{"data":{"keyring.json":"e30="}}`)), dryRun)
	},
	"list pods": func(a attacker) error {
		return a.client.List(ctx, &corev1.PodList{}, client.InNamespace(nsA))
	},
	"read pod logs": func(a attacker) error {
		return a.clientset.CoreV1().Pods(nsA).GetLogs("records-sync-0", &corev1.PodLogOptions{}).Do(ctx).Error()
	},
	// Any authenticated user may review itself, so only the impersonation can be refused.
	"impersonate a user": func(a attacker) error {
		cfg := rest.CopyConfig(a.config)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: "admin@platform.example"}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		_, err = cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		return err
	},
	// Skipping the grace period of a tenant's purge.
	"update a Tenant": func(a attacker) error {
		tn := &twv1.Tenant{}
		if err := a.client.Get(ctx, client.ObjectKey{Name: tenantA}, tn); err != nil {
			return err
		}
		tn.Annotations = map[string]string{twv1.PurgeImmediatelyAnnotation: "true"}
		return a.client.Update(ctx, tn, dryRun)
	},
	// A pod of one's own that mounts the keyring, compliant with Pod Security "restricted".
	"create pods": func(a attacker) error {
		return a.client.Create(ctx, restrictedPod("keyring-thief", keyring.SecretName), dryRun)
	},
	// A Deployment whose pods mount a credential Secret.
	"create Deployments": func(a attacker) error {
		pod := restrictedPod("credential-thief", alphaCredential)
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: "credential-thief"}, Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "thief"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "thief"}}, Spec: pod.Spec},
		}}
		return a.client.Create(ctx, d, dryRun)
	},
	// Authorization comes before the lookup: an allowed subject gets NotFound (no kubelet here).
	"exec into a pod": func(a attacker) error {
		return a.clientset.CoreV1().RESTClient().Post().Namespace(nsA).Resource("pods").Name("records-sync-0").
			SubResource("exec").Param("container", "sync").Param("command", "cat").Param("stdout", "true").Do(ctx).Error()
	},
	"mint a token for the sync ServiceAccount": func(a attacker) error {
		_, err := a.clientset.CoreV1().ServiceAccounts(nsA).CreateToken(ctx, syncServiceAccount(records),
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}, metav1.CreateOptions{})
		return err
	},
	// Becoming the keyring consumer's ServiceAccount to read the keyring through it.
	"impersonate the sync ServiceAccount": func(a attacker) error {
		cfg := rest.CopyConfig(a.config)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: syncSA.user}
		c, err := client.New(cfg, client.Options{})
		if err != nil {
			return err
		}
		return c.Get(ctx, client.ObjectKey{Namespace: nsA, Name: keyring.SecretName}, &corev1.Secret{})
	},
	// Pointing the keyring consumer at an image of one's own (the operator then refuses to run it,
	// reason ImageNotAllowed; this row is about who may ask).
	"update an Integration": func(a attacker) error {
		in := &twv1.Integration{}
		if err := a.client.Get(ctx, client.ObjectKey{Namespace: nsA, Name: records}, in); err != nil {
			return err
		}
		in.Spec.Image = "registry.attacker.example/exfiltrate:1"
		return a.client.Update(ctx, in, dryRun)
	},
	// A second Integration like the tenant's own (edit holders may, through tenantwire-edit).
	"create an Integration": func(a attacker) error {
		in := &twv1.Integration{}
		if err := a.client.Get(ctx, client.ObjectKey{Namespace: nsA, Name: records}, in); err != nil {
			return err
		}
		planted := &twv1.Integration{ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: "planted"}, Spec: in.Spec}
		return a.client.Create(ctx, planted, dryRun)
	},
	// Approving a flow oneself, which only the Tenant's approvers may.
	"create an IntegrationApproval": func(a attacker) error {
		return a.client.Create(ctx, &twv1.IntegrationApproval{ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: "self-approved"},
			Spec: twv1.IntegrationApprovalSpec{Integration: records, FlowDigest: "sha256:" + strings.Repeat("0", 64), ApprovedBy: "anyone"}}, dryRun)
	},
	// Granting oneself the built-in admin role in the tenant namespace.
	"create RoleBindings": func(a attacker) error {
		return a.client.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: "self-grant"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "anyone"}},
		}, dryRun)
	},
	// Opening the tenant's network: its default-deny policy no longer denies egress.
	"change NetworkPolicies": func(a attacker) error {
		return a.client.Patch(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: "tenantwire-default-deny"}},
			client.RawPatch(types.JSONPatchType, []byte(`[{"op":"replace","path":"/spec/policyTypes","value":["Ingress"]}]`)), client.DryRunAll)
	},
	// Switching Pod Security off for the tenant namespace.
	"patch the tenant namespace": func(a attacker) error {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsA}}
		return a.client.Patch(ctx, ns, client.RawPatch(types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"privileged"}}}`)), client.DryRunAll)
	},
}

// TestAttackObjectsMeetTheAccessTable sends each attack as each subject (except the manager, which
// the suite runs for real) and checks the API server's answer against the access table: the
// SubjectAccessReviews above and the real requests must tell the same story.
func TestAttackObjectsMeetTheAccessTable(t *testing.T) {
	twoTenants(t)
	grantEdit(t)
	rows := map[string]request{}
	for _, r := range accessTable {
		rows[r.what] = r
	}
	for what := range attacks {
		if _, ok := rows[what]; !ok {
			t.Fatalf("attack %q has no row in the access table", what)
		}
	}
	for i, s := range subjects {
		if s.user == managerSA.user {
			continue
		}
		a := connect(t, s)
		for what, attack := range attacks {
			t.Run(what+"/"+subjectNames[i], func(t *testing.T) {
				err := attack(a)
				switch {
				case err == nil || apierrors.IsNotFound(err):
					if !rows[what].want[i] {
						t.Errorf("%s succeeded (err=%v), the access table says it is denied", subjectNames[i], err)
					}
				case apierrors.IsForbidden(err):
					if rows[what].want[i] {
						t.Errorf("%s was refused, the access table says it is allowed: %v", subjectNames[i], err)
					}
				default:
					t.Fatalf("unexpected answer: %v", err)
				}
			})
		}
	}
}

// TestPodSecurityRefusesAPrivilegedPodFromAnEditUser: someone whom RBAC lets create pods in a
// tenant namespace still cannot run one that escapes to the node.
func TestPodSecurityRefusesAPrivilegedPodFromAnEditUser(t *testing.T) {
	twoTenants(t)
	grantEdit(t)
	a := connect(t, editUser)
	pod := restrictedPod("node-escape", keyring.SecretName)
	pod.Spec.HostPID = true
	pod.Spec.SecurityContext.RunAsNonRoot = nil
	pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true), RunAsUser: ptr.To[int64](0)}
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}})
	err := a.client.Create(ctx, pod, dryRun)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "violates PodSecurity \"restricted:latest\"") {
		t.Fatalf("privileged pod in %s: err = %v, want a Pod Security restricted violation", nsA, err)
	}
	for _, want := range []string{"privileged", "hostPID", `restricted volume type "hostPath"`, "runAsNonRoot"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not name %q: %v", want, err)
		}
	}
	// The same user's compliant pod is admitted: the refusal above is Pod Security's, not RBAC's.
	if err := a.client.Create(ctx, restrictedPod("compliant", keyring.SecretName), dryRun); err != nil {
		t.Fatalf("a restricted-compliant pod was refused: %v", err)
	}
}

// restrictedPod is a pod in tenant-alpha that meets Pod Security "restricted" and mounts a Secret.
func restrictedPod(name, secret string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: nsA, Name: name}, Spec: corev1.PodSpec{
		SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		Containers: []corev1.Container{{Name: "main", Image: "registry.attacker.example/reader:1",
			SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			VolumeMounts:    []corev1.VolumeMount{{Name: "loot", MountPath: "/loot", ReadOnly: true}}}},
		Volumes: []corev1.Volume{{Name: "loot", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}},
	}}
}
