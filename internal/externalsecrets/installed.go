// Package externalsecrets answers, for every controller alike, whether External Secrets Operator
// is installed: whether the API server serves its ExternalSecret kind (external-secrets.io/v1).
// The operator starts without it and reports a condition until it comes.
package externalsecrets

import (
	"errors"
	"strings"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"k8s.io/apimachinery/pkg/api/meta"
)

// Installed reports whether the API server serves ExternalSecrets, asking the REST mapper (the
// manager's re-reads discovery for a group it does not know yet, so a CRD installed after the
// manager started is found). A kind that is not served is (false, nil); a failure to tell is an
// error.
func Installed(mapper meta.RESTMapper) (bool, error) {
	if mapper == nil {
		return false, errors.New("no REST mapper to look up the ExternalSecret kind")
	}
	gvk := esv1.SchemeGroupVersion.WithKind(esv1.ExtSecretKind)
	switch _, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version); {
	case err == nil:
		return true, nil
	case IsNotInstalled(err):
		return false, nil
	default:
		return false, err
	}
}

// IsNotInstalled reports whether an error from a request about ExternalSecrets says that the kind
// is not served: the REST mapper's no-match error, also when a caller wrapped it as text.
func IsNotInstalled(err error) bool {
	return err != nil && (meta.IsNoMatchError(err) || strings.Contains(err.Error(), "no matches for kind"))
}
