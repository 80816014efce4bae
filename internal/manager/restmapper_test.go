package manager

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// countingMapper counts what the memo asks of the mapper it wraps.
type countingMapper struct {
	meta.RESTMapper
	asked int
}

func (c *countingMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	c.asked++
	return c.RESTMapper.RESTMapping(gk, versions...)
}

func TestMappingMemo(t *testing.T) {
	integration := schema.GroupVersionKind{Group: "tenantwire.io", Version: "v1alpha1", Kind: "Integration"}
	served := meta.NewDefaultRESTMapper([]schema.GroupVersion{integration.GroupVersion()})
	served.Add(integration, meta.RESTScopeNamespace)
	missing := schema.GroupKind{Group: "external-secrets.io", Kind: "ExternalSecret"}

	tests := map[string]struct {
		asks      func(m meta.RESTMapper) error
		wantAsked int
	}{
		"a mapping found is asked of the mapper once, and answered as the mapper did": {asks: func(m meta.RESTMapper) error {
			for range 3 {
				got, err := m.RESTMapping(integration.GroupKind())
				if err != nil {
					return err
				}
				if got.GroupVersionKind != integration || got.Scope.Name() != meta.RESTScopeNameNamespace || got.Resource.Resource != "integrations" {
					return fmt.Errorf("got %+v, want the mapper's namespaced integrations", got)
				}
			}
			return nil
		}, wantAsked: 1},
		"each set of versions is its own question": {asks: func(m meta.RESTMapper) error {
			for _, v := range [][]string{nil, {"v1alpha1"}, {"v1alpha1"}, nil} {
				if _, err := m.RESTMapping(integration.GroupKind(), v...); err != nil {
					return err
				}
			}
			return nil
		}, wantAsked: 2},
		"a kind not served is asked again every time": {asks: func(m meta.RESTMapper) error {
			for range 3 {
				if _, err := m.RESTMapping(missing, "v1"); !meta.IsNoMatchError(err) {
					return err
				}
			}
			return nil
		}, wantAsked: 3},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			inner := &countingMapper{RESTMapper: served}
			if err := tc.asks(rememberMappings(inner)); err != nil {
				t.Fatal(err)
			}
			if inner.asked != tc.wantAsked {
				t.Errorf("the mapper was asked %d times, want %d", inner.asked, tc.wantAsked)
			}
		})
	}
}
