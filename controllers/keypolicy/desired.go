package keypolicy

import (
	"slices"
	"strconv"
	"strings"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/labels"
)

// Names of the keyring's children in a tenant namespace.
const (
	ReaderName    = "tenantwire-keyring-reader"
	KeySourceName = "tenantwire-key-source"
)

// DefaultExternalRefresh is how often an external key source is re-read when the policy says not.
const DefaultExternalRefresh = time.Hour

// childMeta: keyring children carry the policy label (so changes wake the KeyPolicy) and no owner
// reference: a cascading deletion of the Tenant must not destroy its keys before the grace period
// ends. They go when the tenant is purged (keyring first, then the namespace with the rest).
func childMeta(t *twv1.Tenant, kp *twv1.KeyPolicy, name string) metav1.ObjectMeta {
	l := labels.ForTenant(t.Name, "keyring")
	l[labels.KeyPolicy] = kp.Name
	return metav1.ObjectMeta{Name: name, Namespace: t.NamespaceName(), Labels: l}
}

// desiredKeyringSecret renders the keyring. Its annotations describe it without key material.
func desiredKeyringSecret(t *twv1.Tenant, kp *twv1.KeyPolicy, kr *keyring.Keyring) (*corev1.Secret, error) {
	raw, err := kr.Marshal()
	if err != nil {
		return nil, err
	}
	meta := childMeta(t, kp, keyring.SecretName)
	versions := make([]string, 0, len(kr.Versions))
	for _, v := range kr.VersionNumbers() {
		versions = append(versions, strconv.Itoa(int(v)))
	}
	meta.Annotations = map[string]string{
		keyring.ActiveVersionAnnotation: strconv.Itoa(int(kr.Active)),
		keyring.VersionsAnnotation:      strings.Join(versions, ","),
		keyring.RotatedAtAnnotation:     kr.ActiveVersion().Created.UTC().Format(time.RFC3339),
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: meta,
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{keyring.DataKey: raw},
	}, nil
}

// desiredReaderRole allows get on the keyring Secret and nothing else.
func desiredReaderRole(t *twv1.Tenant, kp *twv1.KeyPolicy) *rbacv1.Role {
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: childMeta(t, kp, ReaderName),
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"},
			ResourceNames: []string{keyring.SecretName},
		}},
	}
}

// desiredReaderBinding binds the sync ServiceAccounts of the consumer Integrations, in name
// order, so the binding only changes when the set of consumers does.
func desiredReaderBinding(t *twv1.Tenant, kp *twv1.KeyPolicy, consumers []string) *rbacv1.RoleBinding {
	names := slices.Clone(consumers)
	slices.Sort(names)
	var subjects []rbacv1.Subject
	for _, n := range names {
		subjects = append(subjects, readerSubject(t.NamespaceName(), n))
	}
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: childMeta(t, kp, ReaderName),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: ReaderName},
		Subjects:   subjects,
	}
}

// readerSubject is the sync ServiceAccount of a consumer Integration.
func readerSubject(namespace, integration string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: integration + "-sync", Namespace: namespace}
}

// desiredKeySource pulls an external policy's key material for one tenant from its own vault path.
func desiredKeySource(t *twv1.Tenant, kp *twv1.KeyPolicy) *esv1.ExternalSecret {
	ext := kp.Spec.Source.External
	key := strings.ReplaceAll(ext.RemoteKeyTemplate, "{tenant}", t.Name)
	refresh := DefaultExternalRefresh
	if ext.RefreshInterval != nil {
		refresh = ext.RefreshInterval.Duration
	}
	meta := childMeta(t, kp, KeySourceName)
	return &esv1.ExternalSecret{
		TypeMeta:   metav1.TypeMeta{APIVersion: esv1.SchemeGroupVersion.String(), Kind: esv1.ExtSecretKind},
		ObjectMeta: meta,
		Spec: esv1.ExternalSecretSpec{
			SecretStoreRef:  esv1.SecretStoreRef{Name: ext.StoreRef.Name, Kind: string(ext.StoreRef.Kind)},
			RefreshInterval: &metav1.Duration{Duration: refresh},
			Target: esv1.ExternalSecretTarget{
				Name: KeySourceName, CreationPolicy: esv1.CreatePolicyOwner, DeletionPolicy: esv1.DeletionPolicyRetain,
				Template: &esv1.ExternalSecretTemplate{Type: corev1.SecretTypeOpaque, EngineVersion: esv1.TemplateEngineV2,
					Metadata: esv1.ExternalSecretTemplateMetadata{Labels: meta.Labels}},
			},
			Data: []esv1.ExternalSecretData{
				{SecretKey: "encryptionKey", RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: key, Property: ext.EncryptionKeyProperty}},
				{SecretKey: "hmacKey", RemoteRef: esv1.ExternalSecretDataRemoteRef{Key: key, Property: ext.HMACKeyProperty}},
			},
		},
	}
}
