package externalsecrets

import (
	"errors"
	"fmt"
	"testing"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// failingMapper cannot tell: discovery itself fails.
type failingMapper struct{ meta.RESTMapper }

func (failingMapper) RESTMapping(schema.GroupKind, ...string) (*meta.RESTMapping, error) {
	return nil, errors.New("the server is currently unable to handle the request")
}

func TestInstalled(t *testing.T) {
	builtin := func() *meta.DefaultRESTMapper {
		m := meta.NewDefaultRESTMapper([]schema.GroupVersion{corev1.SchemeGroupVersion})
		m.Add(corev1.SchemeGroupVersion.WithKind("Secret"), meta.RESTScopeNamespace)
		return m
	}
	withESO := builtin()
	withESO.Add(esv1.SchemeGroupVersion.WithKind(esv1.ExtSecretKind), meta.RESTScopeNamespace)
	olderESO := builtin()
	olderESO.Add(schema.GroupVersionKind{Group: "external-secrets.io", Version: "v1beta1", Kind: "ExternalSecret"}, meta.RESTScopeNamespace)
	tests := map[string]struct {
		mapper  meta.RESTMapper
		want    bool
		wantErr bool
	}{
		"ESO's CRD served": {mapper: withESO, want: true},
		"no ESO":           {mapper: builtin()},
		"only an ESO that serves v1beta1, not v1":    {mapper: olderESO},
		"discovery fails: an error, not a verdict":   {mapper: failingMapper{}, wantErr: true},
		"no mapper: an error, not a missing install": {mapper: nil, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Installed(tc.mapper)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("Installed = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestIsNotInstalled(t *testing.T) {
	noMatch := &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "external-secrets.io", Kind: "ExternalSecret"}, SearchedVersions: []string{"v1"}}
	tests := map[string]struct {
		err  error
		want bool
	}{
		"nil":                            {err: nil},
		"no kind match":                  {err: noMatch, want: true},
		"no kind match, wrapped":         {err: fmt.Errorf("applying key source: %w", noMatch), want: true},
		"no kind match, as text":         {err: fmt.Errorf("applying key source: %v", noMatch), want: true},
		"another error":                  {err: errors.New("connection refused")},
		"forbidden is not a non-install": {err: errors.New(`externalsecrets.external-secrets.io "x" is forbidden`)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := IsNotInstalled(tc.err); got != tc.want {
				t.Errorf("IsNotInstalled(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
