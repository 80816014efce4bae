package childcache_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/labels"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

var mgr *testenv.Manager

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, testenv.SuiteOptions{ExternalSecrets: true}, func(m *testenv.Manager) error {
		mgr = m
		return nil
	}))
}

// TestCacheHoldsOnlyOurChildren: the manager's cache holds our labelled children and all of our
// own kinds, and nothing else of a kind we only create, including kinds without an entry of their
// own (ExternalSecrets, whose CRD may be installed after the manager starts).
func TestCacheHoldsOnlyOurChildren(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cache-test"}}
	if err := mgr.Direct.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	ours := map[string]string{labels.ManagedBy: labels.ManagedByValue}
	es := func(name string, l map[string]string) client.Object {
		return &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: name, Labels: l},
			Spec: esv1.ExternalSecretSpec{SecretStoreRef: esv1.SecretStoreRef{Name: "vault", Kind: "ClusterSecretStore"},
				Target: esv1.ExternalSecretTarget{Name: name}}}
	}
	secret := func(name string, l map[string]string) client.Object {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: name, Labels: l}}
	}
	tenant := &twv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "cache-test"}, Spec: twv1.TenantSpec{DisplayName: "cache test"}}
	for _, o := range []client.Object{es("ours", ours), es("someone-elses", nil), secret("ours", ours), secret("someone-elses", nil), tenant} {
		if err := mgr.Direct.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	tests := map[string]struct {
		obj    client.Object
		key    client.ObjectKey
		cached bool
	}{
		"our ExternalSecret":              {obj: &esv1.ExternalSecret{}, key: client.ObjectKey{Namespace: ns.Name, Name: "ours"}, cached: true},
		"someone else's ExternalSecret":   {obj: &esv1.ExternalSecret{}, key: client.ObjectKey{Namespace: ns.Name, Name: "someone-elses"}},
		"our Secret":                      {obj: &corev1.Secret{}, key: client.ObjectKey{Namespace: ns.Name, Name: "ours"}, cached: true},
		"someone else's Secret":           {obj: &corev1.Secret{}, key: client.ObjectKey{Namespace: ns.Name, Name: "someone-elses"}},
		"a Tenant (our kind, unlabelled)": {obj: &twv1.Tenant{}, key: client.ObjectKey{Name: "cache-test"}, cached: true},
	}
	// Our objects reach the cache; once they have, anything filtered out would have too.
	testenv.Eventually(t, 20*time.Second, func() error {
		for name, tc := range tests {
			if tc.cached {
				if err := mgr.GetClient().Get(ctx, tc.key, tc.obj); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
		}
		return nil
	})
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := mgr.GetClient().Get(ctx, tc.key, tc.obj)
			if cached := err == nil; cached != tc.cached {
				t.Errorf("in the cache: %v (%v), want %v", cached, err, tc.cached)
			}
		})
	}
}
