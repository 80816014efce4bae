package apicheck

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

var gv = twv1.GroupVersion

// served is a discovery answer for gv: each resource as "kind=plural", each status as "plural/status".
func served(resources ...string) *fakediscovery.FakeDiscovery {
	list := &metav1.APIResourceList{GroupVersion: gv.String()}
	for _, r := range resources {
		kind, name, ok := strings.Cut(r, "=")
		if !ok {
			name, kind = r, ""
		}
		list.APIResources = append(list.APIResources, metav1.APIResource{Name: name, Kind: kind, Namespaced: true})
	}
	return &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{Resources: []*metav1.APIResourceList{list}}}
}

func TestKindsAreTheSchemesTenantwireKinds(t *testing.T) {
	got := Kinds(twscheme.New())
	want := []Kind{{"Integration", true}, {"IntegrationApproval", false}, {"KeyPolicy", true}, {"Tenant", true}}
	if !slices.Equal(got, want) {
		t.Errorf("Kinds = %v, want %v", got, want)
	}
	if got := Kinds(runtime.NewScheme()); len(got) != 0 {
		t.Errorf("Kinds of an empty scheme = %v, want none", got)
	}
}

func TestCheck(t *testing.T) {
	kinds := []Kind{{"Integration", true}, {"Tenant", true}, {"Approval", false}}
	tests := map[string]struct {
		discovery *fakediscovery.FakeDiscovery
		gv        schema.GroupVersion
		wantErr   []string // each part of the error; none: no error
	}{
		"every kind with its status": {
			discovery: served("Integration=integrations", "integrations/status", "Tenant=tenants", "tenants/status", "Approval=approvals"),
		},
		"a kind not served": {
			discovery: served("Integration=integrations", "integrations/status", "Approval=approvals"),
			wantErr:   []string{"tenantwire.io/v1alpha1: Tenant is not served"},
		},
		"a kind without status": {
			discovery: served("Integration=integrations", "Tenant=tenants", "tenants/status", "Approval=approvals"),
			wantErr:   []string{"Integration (integrations) has no status subresource"},
		},
		"both problems named": {
			discovery: served("Integration=integrations"),
			wantErr:   []string{"Integration (integrations) has no status subresource", "Tenant is not served", "Approval is not served"},
		},
		"the group version not served": {
			discovery: served("Integration=integrations", "integrations/status", "Tenant=tenants", "tenants/status"),
			gv:        schema.GroupVersion{Group: gv.Group, Version: "v1beta1"},
			wantErr:   []string{"discovery of tenantwire.io/v1beta1"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			asked := gv
			if !tc.gv.Empty() {
				asked = tc.gv
			}
			err := Check(tc.discovery, asked, kinds)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check = nil, want an error with %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Check = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestWaitGivesUpWithTheLastAnswer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := Wait(ctx, served("Integration=integrations"), gv, []Kind{{"Integration", true}}, 10*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "has no status subresource") || !strings.Contains(err.Error(), "gave up") {
		t.Fatalf("Wait = %v, want the last answer and that it gave up", err)
	}
}

// Against a real API server: the CRDs of config/crd/bases are served; once one is deleted, the
// check names it.
func TestRunAgainstTheAPIServer(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set (hack/tools.sh envtest)")
	}
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	ctx := context.Background()
	var out bytes.Buffer
	if err := Run(ctx, env.Config, twscheme.New(), 30*time.Second, 200*time.Millisecond, &out); err != nil {
		t.Fatalf("check-api with every CRD installed: %v", err)
	}
	if want := "tenantwire.io/v1alpha1 serves Integration, IntegrationApproval, KeyPolicy, Tenant\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}

	s := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "keypolicies.tenantwire.io"}}
	if err := c.Delete(ctx, crd); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		out.Reset()
		err := Run(ctx, env.Config, twscheme.New(), 300*time.Millisecond, 100*time.Millisecond, &out)
		switch {
		case err == nil:
			return errors.New("the check still passes with the KeyPolicy CRD deleted")
		case !strings.Contains(err.Error(), "KeyPolicy is not served"):
			return err
		}
		return nil
	})
	if out.Len() != 0 {
		t.Errorf("a failed check printed %q", out.String())
	}
}
