// Package apicheck answers whether the API server serves tenantwire's API: every kind of
// tenantwire.io/v1alpha1, with its status subresource where it has one. `tenantwire check-api`, which the Helm
// chart's test pod runs, is built on it. It asks discovery only, which Kubernetes grants every
// authenticated identity (system:discovery), so the identity that runs it needs no RBAC of its own.
package apicheck

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// Kind is a kind the API must serve, and whether it must serve its status subresource.
type Kind struct {
	Name   string
	Status bool
}

// Kinds are the kinds of tenantwire.io/v1alpha1 the operator's scheme registers, sorted by name,
// with a status subresource where the Go type has a Status field: adding a kind to the API adds it
// to the check.
func Kinds(s *runtime.Scheme) []Kind {
	pkg := reflect.TypeFor[twv1.Tenant]().PkgPath()
	var kinds []Kind
	for gvk, t := range s.AllKnownTypes() {
		if gvk.GroupVersion() != twv1.GroupVersion || t.PkgPath() != pkg || strings.HasSuffix(gvk.Kind, "List") {
			continue
		}
		_, status := t.FieldByName("Status")
		kinds = append(kinds, Kind{Name: gvk.Kind, Status: status})
	}
	slices.SortFunc(kinds, func(a, b Kind) int { return strings.Compare(a.Name, b.Name) })
	return kinds
}

// Check asks discovery once whether gv serves every kind of kinds, with its status subresource
// where it has one. The error names the group version and each kind that is missing or lacks its
// status.
func Check(d discovery.DiscoveryInterface, gv schema.GroupVersion, kinds []Kind) error {
	list, err := d.ServerResourcesForGroupVersion(gv.String())
	if err != nil {
		return fmt.Errorf("discovery of %s: %w", gv, err)
	}
	resources := map[string]string{} // kind -> plural resource
	status := map[string]bool{}      // plural resources with a status subresource
	for _, r := range list.APIResources {
		if plural, sub, ok := strings.Cut(r.Name, "/"); ok {
			if sub == "status" {
				status[plural] = true
			}
			continue
		}
		resources[r.Kind] = r.Name
	}
	var problems []string
	for _, kind := range kinds {
		plural, ok := resources[kind.Name]
		switch {
		case !ok:
			problems = append(problems, kind.Name+" is not served")
		case kind.Status && !status[plural]:
			problems = append(problems, kind.Name+" ("+plural+") has no status subresource")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %s", gv, strings.Join(problems, "; "))
	}
	return nil
}

// Wait repeats Check every interval until it passes or ctx ends, and then returns the last
// answer: CRDs installed a moment ago take a few seconds to be served.
func Wait(ctx context.Context, d discovery.DiscoveryInterface, gv schema.GroupVersion, kinds []Kind, interval time.Duration) error {
	for {
		err := Check(d, gv, kinds)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %w)", err, context.Cause(ctx))
		case <-time.After(interval):
		}
	}
}

// Run is `tenantwire check-api`: it waits up to timeout for the API server at cfg to serve every
// kind of tenantwire's scheme, and says so on out.
func Run(ctx context.Context, cfg *rest.Config, s *runtime.Scheme, timeout, interval time.Duration, out io.Writer) error {
	d, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	kinds := Kinds(s)
	if len(kinds) == 0 {
		return fmt.Errorf("the scheme registers no kind of %s", twv1.GroupVersion)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("not served within %s", timeout))
	defer cancel()
	if err := Wait(ctx, d, twv1.GroupVersion, kinds, interval); err != nil {
		return err
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Name
	}
	_, err = fmt.Fprintf(out, "%s serves %s\n", twv1.GroupVersion, strings.Join(names, ", "))
	return err
}
