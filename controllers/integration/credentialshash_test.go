package integration

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/tenantwire/tenantwire/internal/childcache"
	"github.com/tenantwire/tenantwire/internal/labels"
)

// credentialSecret is a credential Secret as External Secrets Operator syncs it.
func credentialSecret(name string, kv ...string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-acme", Name: name,
		Labels: labels.ForIntegration("acme", "cerbo-qb", labels.CredentialsComponent)}, Data: map[string][]byte{}}
	for i := 0; i+1 < len(kv); i += 2 {
		s.Data[kv[i]] = []byte(kv[i+1])
	}
	return s
}

// cached is the Secret as the manager's cache holds it.
func cached(t *testing.T, s *corev1.Secret) *corev1.Secret {
	t.Helper()
	out, err := childcache.Slim(s.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	return out.(*corev1.Secret)
}

func TestCredentialsHash(t *testing.T) {
	secret := credentialSecret
	base := credentialsHash(secret("src", "user", "u", "key", "k1"), secret("dst", "token", "t"))
	tests := map[string]struct {
		secrets  []*corev1.Secret
		wantSame bool
	}{
		"same data":                 {secrets: []*corev1.Secret{secret("src", "user", "u", "key", "k1"), secret("dst", "token", "t")}, wantSame: true},
		"key order irrelevant":      {secrets: []*corev1.Secret{secret("src", "key", "k1", "user", "u"), secret("dst", "token", "t")}, wantSame: true},
		"changed value":             {secrets: []*corev1.Secret{secret("src", "user", "u", "key", "k2"), secret("dst", "token", "t")}},
		"changed destination value": {secrets: []*corev1.Secret{secret("src", "user", "u", "key", "k1"), secret("dst", "token", "t2")}},
		"value moved between keys":  {secrets: []*corev1.Secret{secret("src", "user", "uk", "key", "1"), secret("dst", "token", "t")}},
		"added key":                 {secrets: []*corev1.Secret{secret("src", "user", "u", "key", "k1", "x", ""), secret("dst", "token", "t")}},
		"Secrets swapped":           {secrets: []*corev1.Secret{secret("dst", "token", "t"), secret("src", "user", "u", "key", "k1")}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := credentialsHash(tc.secrets...) == base; got != tc.wantSame {
				t.Errorf("same hash = %v, want %v", got, tc.wantSame)
			}
			// The cache keeps only a digest of each Secret's data; the hash must not tell.
			slim := make([]*corev1.Secret, 0, len(tc.secrets))
			for _, s := range tc.secrets {
				slim = append(slim, cached(t, s))
			}
			if whole, fromCache := credentialsHash(tc.secrets...), credentialsHash(slim...); whole != fromCache {
				t.Errorf("hash of the cached Secrets %s, of the whole ones %s", fromCache, whole)
			}
		})
	}
	// Metadata a refresh touches (annotations, resourceVersion) must not change the hash.
	refreshed := secret("src", "user", "u", "key", "k1")
	refreshed.Annotations = map[string]string{"reconcile.external-secrets.io/data-hash": "x"}
	refreshed.ResourceVersion = "999"
	if credentialsHash(refreshed, secret("dst", "token", "t")) != base {
		t.Error("a refresh that changed only metadata changed the hash")
	}
}

// TestWholeCredentialsHashIsTheEarlierForm: the value earlier operator versions put on pod
// templates for these Secrets; if it changed, an upgrade would roll every sync Deployment.
func TestWholeCredentialsHashIsTheEarlierForm(t *testing.T) {
	got := wholeCredentialsHash(credentialSecret("src", "user", "u", "key", "k1"), credentialSecret("dst", "token", "t"))
	if want := "df4a56a51d2f726b79d7c569e43662f4"; got != want {
		t.Errorf("wholeCredentialsHash = %s, want %s", got, want)
	}
}

// TestCarriesCredentials: a pod template hashed in the earlier form over the same data needs no
// rollout; one over other data, or over data the cache has not seen yet, does.
func TestCarriesCredentials(t *testing.T) {
	src, dst := credentialSecret("src", "user", "u", "key", "k1"), credentialSecret("dst", "token", "t")
	whole := wholeCredentialsHash(src, dst)
	rotated := credentialSecret("dst", "token", "t2")
	tests := map[string]struct {
		live     []client.Object // what the API server holds
		previous string
		want     bool
	}{
		"earlier form of the same data":        {live: []client.Object{src, dst}, previous: whole, want: true},
		"earlier form of other data":           {live: []client.Object{src, dst}, previous: wholeCredentialsHash(src, rotated)},
		"the API server has newer data":        {live: []client.Object{src, rotated}, previous: whole},
		"a Secret is gone from the API server": {live: []client.Object{src}, previous: whole},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			reader := &countingReader{Reader: fake.NewClientBuilder().WithObjects(tc.live...).Build()}
			r := (&Reconciler{APIReader: reader}).complete()
			secrets := []*corev1.Secret{cached(t, src), cached(t, dst)}
			current := credentialsHash(secrets...)
			key := client.ObjectKey{Namespace: "tenant-acme", Name: "cerbo-qb"}
			for range 2 {
				got, err := r.carriesCredentials(context.Background(), key, secrets, tc.previous, current)
				if err != nil {
					t.Fatal(err)
				}
				if got != tc.want {
					t.Errorf("carriesCredentials = %v, want %v", got, tc.want)
				}
			}
			if tc.want && reader.gets != len(secrets) {
				t.Errorf("%d uncached reads for two reconciles, want %d (the answer is remembered)", reader.gets, len(secrets))
			}
		})
	}
}

type countingReader struct {
	client.Reader
	gets int
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.gets++
	return c.Reader.Get(ctx, key, obj, opts...)
}
