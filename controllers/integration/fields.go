package integration

import (
	"fmt"
	"slices"
	"strings"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	"github.com/tenantwire/tenantwire/internal/connector/gohighlevel"
	"github.com/tenantwire/tenantwire/internal/connector/quickbooks"
	"github.com/tenantwire/tenantwire/internal/connector/zoho"
	"github.com/tenantwire/tenantwire/internal/record"
)

// destinationFields is what one destination system can hold and what a write to it needs, as its
// codec declares them. The CRD's rules on spec.fields are written by hand from this table, and a
// test holds them to it.
type destinationFields struct {
	// holds are the canonical fields the system can store.
	holds record.Set
	// needs must all be authorized; needsOneOf, at least one of them.
	needs, needsOneOf record.Set
}

// everyField is the whole vocabulary: a webhook receiver takes the documented JSON schema, and a
// Cerbo patient has a place for every canonical field.
var everyField = func() record.Set {
	var fields []record.Field
	for _, spec := range record.Vocabulary() {
		fields = append(fields, spec.Field)
	}
	return record.NewSet(fields...)
}()

// destinations lists every system an Integration may write to.
var destinations = map[twv1.System]destinationFields{
	twv1.SystemCerbo:       {holds: everyField},
	twv1.SystemQuickBooks:  {holds: quickbooks.Holds, needs: quickbooks.Needs},
	twv1.SystemZoho:        {holds: zoho.Holds, needs: zoho.Needs},
	twv1.SystemGoHighLevel: {holds: gohighlevel.Holds, needsOneOf: gohighlevel.NeedsOneOf},
	twv1.SystemWebhook:     {holds: everyField},
}

// effectiveFields is the field set an Integration authorizes: spec.fields, or the default minimum
// when it names none (the API server defaults it; a client that skips defaulting gets the same).
// A name outside the vocabulary is left out, which moves less, never more; validateFields refuses
// such an Integration before anything is rendered.
func effectiveFields(in *twv1.Integration) record.Set {
	if len(in.Spec.Fields) == 0 {
		return record.DefaultMinimum()
	}
	fields := make([]record.Field, len(in.Spec.Fields))
	for i, f := range in.Spec.Fields {
		fields[i] = record.Field(f)
	}
	return record.NewSet(fields...)
}

// renderedFields are the effective fields as the sync configuration and the status carry them, in
// vocabulary order.
func renderedFields(in *twv1.Integration) []string {
	fields := effectiveFields(in).Fields()
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = string(f)
	}
	return out
}

// statusFields are the effective fields as status.fields shows them.
func statusFields(in *twv1.Integration) []twv1.PatientField {
	var out []twv1.PatientField
	for _, f := range renderedFields(in) {
		out = append(out, twv1.PatientField(f))
	}
	return out
}

// BAACoverage is the set of destination systems the platform has a business associate agreement
// for: the only ones PHI-class fields may flow to. It is platform configuration
// (--baa-covered-systems), never part of an Integration, which tenant admins edit.
type BAACoverage struct{ systems []twv1.System }

// ParseBAACoverage reads the systems named by --baa-covered-systems. An unknown name is an error,
// so a typo stops the manager instead of covering nothing (or something else) unnoticed.
func ParseBAACoverage(names []string) (BAACoverage, error) {
	var c BAACoverage
	for _, n := range names {
		s := twv1.System(n)
		if _, ok := destinations[s]; !ok {
			return BAACoverage{}, fmt.Errorf("unknown system %q (known: %s)", n, strings.Join(knownDestinations(), ", "))
		}
		if !slices.Contains(c.systems, s) {
			c.systems = append(c.systems, s)
		}
	}
	return c, nil
}

// Covers says whether PHI may flow to the system.
func (c BAACoverage) Covers(s twv1.System) bool { return slices.Contains(c.systems, s) }

// String lists the covered systems as the flag takes them.
func (c BAACoverage) String() string {
	names := make([]string, len(c.systems))
	for i, s := range c.systems {
		names[i] = string(s)
	}
	return strings.Join(names, ",")
}

func knownDestinations() []string {
	var names []string
	for s := range destinations {
		names = append(names, string(s))
	}
	slices.Sort(names)
	return names
}

// validateFields refuses what only the operator can know to refuse: protected health information
// to a destination system the platform has no business associate agreement for. What a system can
// hold and needs is refused at apply time by the CRD's rules.
func validateFields(x specInput) *conditions.Problem {
	in := x.in
	for _, f := range in.Spec.Fields {
		if _, ok := record.Lookup(record.Field(f)); !ok {
			return &conditions.Problem{Reason: twv1.ReasonFieldsNotCovered, Stalled: true,
				Message: fmt.Sprintf("spec.fields: %q is not a field this operator knows; nothing is sent until spec.fields names only known fields", f)}
		}
	}
	phi := effectiveFields(in).Of(record.ClassPHI)
	dest := in.Spec.Destination.System
	if len(phi) == 0 || x.rules.baaCovered.Covers(dest) {
		return nil
	}
	names := make([]string, len(phi))
	for i, f := range phi {
		names[i] = string(f)
	}
	is, it := "is", "it"
	if len(names) > 1 {
		is, it = "are", "them"
	}
	return &conditions.Problem{Reason: twv1.ReasonFieldsNotCovered, Stalled: true,
		Message: fmt.Sprintf("spec.fields: %s %s protected health information, and the destination system %s is not covered by a business associate agreement on this platform (--baa-covered-systems); "+
			"remove %s from spec.fields, or have a cluster admin mark %s as covered once the agreement is signed", strings.Join(names, ", "), is, dest, it, dest)}
}
