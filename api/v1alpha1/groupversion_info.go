// Package v1alpha1 contains the tenantwire.io/v1alpha1 API: Tenant, Integration,
// IntegrationApproval and KeyPolicy.
// +kubebuilder:object:generate=true
// +groupName=tenantwire.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every tenantwire API.
	GroupVersion = schema.GroupVersion{Group: "tenantwire.io", Version: "v1alpha1"}

	// SchemeBuilder registers the tenantwire types with a runtime scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the tenantwire types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
