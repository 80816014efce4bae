// Package scheme builds the runtime scheme with every API tenantwire reads or writes.
package scheme

import (
	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	esv1alpha1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// New returns a fresh scheme with the built-in Kubernetes types, the tenantwire API and the
// External Secrets Operator types tenantwire writes.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, twv1.AddToScheme, esv1.AddToScheme, esv1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}
