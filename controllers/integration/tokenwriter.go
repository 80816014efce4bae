package integration

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	esv1alpha1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
)

// rotatedTokenRefresh is how often ESO pushes the rotated-token Secret to the vault. ESO does not
// watch the Secret, so this bounds how long a rotated token lives only in the cluster.
const rotatedTokenRefresh = time.Minute

// tokenWriterTokenSeconds is the projected token's lifetime: the shortest the API server allows.
// The kubelet renews it at 80% of that.
const tokenWriterTokenSeconds = 600

// refreshTokenProperty is the property of a credentials path that holds the refresh token.
const refreshTokenProperty = "refresh_token"

// rotatingSides are the sides whose system rotates refresh tokens (System.RotatesRefreshTokens),
// in side order. The vault's token of such a side stops working after the first refresh, so the
// operator builds a write-back channel for it: a Secret the sync pod may patch and nothing else,
// and a PushSecret that carries its tokens to the side's credentials path in the vault.
func rotatingSides(in *twv1.Integration) []side {
	var sides []side
	for _, s := range vendorSides {
		if endpointOf(in, s).System.RotatesRefreshTokens() {
			sides = append(sides, s)
		}
	}
	return sides
}

func tokenWriterName(in *twv1.Integration) string  { return in.Name + "-token-writer" }
func rotatedTokenName(in *twv1.Integration) string { return in.Name + "-rotated-token" }

// tokenWriterConfig tells the runtime where to write rotated tokens; nil without a rotating side.
func tokenWriterConfig(in *twv1.Integration) *syncconfig.TokenWriter {
	sides := rotatingSides(in)
	if len(sides) == 0 {
		return nil
	}
	tw := &syncconfig.TokenWriter{Namespace: in.Namespace, Secret: rotatedTokenName(in), Dir: syncconfig.TokenWriterDir}
	for _, s := range sides {
		tw.Sides = append(tw.Sides, string(s))
	}
	return tw
}

// desiredTokenWriterServiceAccount is the identity of the sync pods of an Integration with a
// rotating side: a token is projected into the pods, never automounted.
func desiredTokenWriterServiceAccount(in *twv1.Integration, ip inputs) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   childMeta(in, ip.tenant.Name, tokenWriterName(in), labels.TokenWriterComponent),
		AutomountServiceAccountToken: ptr.To(false),
	}
}

// desiredRotatedTokenSecret is created empty by the operator, so that the token writer needs only
// patch: the runtime fills it. Server-side apply of no data leaves the runtime's keys alone.
func desiredRotatedTokenSecret(in *twv1.Integration, ip inputs) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: childMeta(in, ip.tenant.Name, rotatedTokenName(in), labels.RotatedTokenComponent),
		Type:       corev1.SecretTypeOpaque,
	}
}

// desiredTokenWriterRole allows patch on the rotated-token Secret and nothing else: no get (the
// pod needs no read), no create, no other Secret.
func desiredTokenWriterRole(in *twv1.Integration, ip inputs) *rbacv1.Role {
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: childMeta(in, ip.tenant.Name, tokenWriterName(in), "rbac"),
		Rules: []rbacv1.PolicyRule{{
			APIGroups:     []string{""},
			Resources:     []string{"secrets"},
			Verbs:         []string{"patch"},
			ResourceNames: []string{rotatedTokenName(in)},
		}},
	}
}

func desiredTokenWriterRoleBinding(in *twv1.Integration, ip inputs) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: childMeta(in, ip.tenant.Name, tokenWriterName(in), "rbac"),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: tokenWriterName(in)},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: tokenWriterName(in), Namespace: in.Namespace}},
	}
}

// desiredRotatedTokenPushSecret pushes each rotating side's token to that side's own credentials
// path, property refresh_token, in the tenant's store. Replace overwrites the retired token;
// None leaves the vault alone when the PushSecret goes (the purge lists the path instead). A key
// the runtime has not written yet is an error ESO reports, never an empty value pushed.
func desiredRotatedTokenPushSecret(in *twv1.Integration, ip inputs) *esv1alpha1.PushSecret {
	store := ip.tenant.Spec.SecretStore
	var data []esv1alpha1.PushSecretData
	for _, s := range rotatingSides(in) {
		data = append(data, esv1alpha1.PushSecretData{Match: esv1alpha1.PushSecretMatch{
			SecretKey: syncconfig.RotatedTokenKey(string(s)),
			RemoteRef: esv1alpha1.PushSecretRemoteRef{RemoteKey: remotePath(store.PathPrefix, credentialsOf(in, s).RemoteKey),
				Property: refreshTokenProperty},
		}})
	}
	kind := string(store.Kind)
	if kind == "" {
		kind = string(twv1.ClusterSecretStoreKind)
	}
	return &esv1alpha1.PushSecret{
		TypeMeta:   metav1.TypeMeta{APIVersion: esv1alpha1.SchemeGroupVersion.String(), Kind: esv1alpha1.PushSecretKind},
		ObjectMeta: childMeta(in, ip.tenant.Name, rotatedTokenName(in), labels.RotatedTokenComponent),
		Spec: esv1alpha1.PushSecretSpec{
			RefreshInterval: &metav1.Duration{Duration: rotatedTokenRefresh},
			SecretStoreRefs: []esv1alpha1.PushSecretStoreRef{{Name: store.Name, Kind: kind}},
			UpdatePolicy:    esv1alpha1.PushSecretUpdatePolicyReplace,
			DeletionPolicy:  esv1alpha1.PushSecretDeletionPolicyNone,
			Selector:        esv1alpha1.PushSecretSelector{Secret: &esv1alpha1.PushSecretSecret{Name: rotatedTokenName(in)}},
			Data:            data,
		},
	}
}

// tokenWriterVolume projects the token writer's API credentials: a token of the pod's own
// ServiceAccount (the token writer) for the API server's audience, ten minutes long and renewed by
// the kubelet, and the cluster's CA bundle. The API server accepts only tokens for its own
// audiences, so the token is scoped to it, not to an audience of ours it would refuse.
func tokenWriterVolume() (corev1.VolumeMount, corev1.Volume) {
	mount := corev1.VolumeMount{Name: "token-writer", MountPath: syncconfig.TokenWriterDir, ReadOnly: true}
	vol := corev1.Volume{Name: "token-writer", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](0o440),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: syncconfig.TokenWriterTokenFile,
				ExpirationSeconds: ptr.To[int64](tokenWriterTokenSeconds)}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: kubeRootCA},
				Items: []corev1.KeyToPath{{Key: syncconfig.TokenWriterCAFile, Path: syncconfig.TokenWriterCAFile}}}},
		},
	}}}
	return mount, vol
}

// kubeRootCA is the ConfigMap the kube-controller-manager publishes in every namespace with the
// API server's CA bundle.
const kubeRootCA = "kube-root-ca.crt"

// tokenWriterChildren are the objects of the write-back channel, PushSecret last: it reads a
// Secret that must exist.
func tokenWriterChildren(in *twv1.Integration, ip inputs) []client.Object {
	return []client.Object{desiredTokenWriterServiceAccount(in, ip), desiredRotatedTokenSecret(in, ip), desiredTokenWriterRole(in, ip),
		desiredTokenWriterRoleBinding(in, ip), desiredRotatedTokenPushSecret(in, ip)}
}

// removeTokenWriter deletes the write-back channel of an Integration that has no rotating side
// any more, or whose credentials leave the cluster. Each child is looked up in the cache or the
// child watch first, so an Integration without one sends nothing.
func (r *Reconciler) removeTokenWriter(ctx context.Context, in *twv1.Integration) error {
	om := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: in.Namespace, Name: name} }
	cached := []client.Object{&corev1.Secret{ObjectMeta: om(rotatedTokenName(in))}}
	r.esWatchMu.Lock()
	err := r.ensurePushSecretWatch()
	if r.pushWatching {
		cached = append([]client.Object{&esv1alpha1.PushSecret{ObjectMeta: om(rotatedTokenName(in))}}, cached...)
	}
	r.esWatchMu.Unlock()
	errs := []error{err}
	for _, obj := range cached {
		var notCached *cache.ErrResourceNotCached
		switch err := r.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); {
		case apierrors.IsNotFound(err):
		case errors.As(err, &notCached):
			// The watch just started (after a restart, the first reconcile starts it): its initial
			// list enqueues this Integration again for any PushSecret it owns, so there is nothing
			// to remove yet, and no error to report.
		case err != nil:
			errs = append(errs, err)
		case metav1.IsControlledBy(obj, in) && obj.GetDeletionTimestamp().IsZero():
			errs = append(errs, client.IgnoreNotFound(r.Client.Delete(ctx, obj, client.Preconditions{UID: ptr.To(obj.GetUID())})))
		}
	}
	for _, obj := range []client.Object{
		&rbacv1.RoleBinding{ObjectMeta: om(tokenWriterName(in))},
		&rbacv1.Role{ObjectMeta: om(tokenWriterName(in))},
		&corev1.ServiceAccount{ObjectMeta: om(tokenWriterName(in))},
	} {
		errs = append(errs, r.deleteWatchedChild(ctx, in, obj))
	}
	return errors.Join(errs...)
}

// APIServerEndpoint is where the API server answers, as a NetworkPolicy sees it (after a Service's
// address is translated, most network plugins see the endpoint): the token writer's egress.
type APIServerEndpoint struct {
	CIDR string
	Port int32
}

// ParseAPIServerEgress reads --api-server-egress entries, each <cidr>:<port>.
func ParseAPIServerEgress(entries []string) ([]APIServerEndpoint, error) {
	var out []APIServerEndpoint
	for _, e := range entries {
		i := strings.LastIndex(e, ":")
		if i < 0 {
			return nil, fmt.Errorf("--api-server-egress %q: want <cidr>:<port>", e)
		}
		prefix, err := netip.ParsePrefix(e[:i])
		if err != nil {
			return nil, fmt.Errorf("--api-server-egress %q: %w", e, err)
		}
		port, err := strconv.ParseInt(e[i+1:], 10, 32)
		if err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("--api-server-egress %q: the port must be 1 to 65535", e)
		}
		out = append(out, APIServerEndpoint{CIDR: prefix.Masked().String(), Port: int32(port)})
	}
	return out, nil
}

// addAPIServerEgress lets the sync pods of an Integration with a rotating side reach the API
// server, where the token writer patches its Secret; no other Integration's pods reach it.
func addAPIServerEgress(policy *networkingv1.NetworkPolicy, in *twv1.Integration, endpoints []APIServerEndpoint) {
	if len(rotatingSides(in)) == 0 {
		return
	}
	for _, e := range endpoints {
		policy.Spec.Egress = append(policy.Spec.Egress, networkingv1.NetworkPolicyEgressRule{
			To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: e.CIDR}}},
			Ports: []networkingv1.NetworkPolicyPort{tcpPort(e.Port)},
		})
	}
}
