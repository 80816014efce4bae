package record

import (
	"fmt"
	"slices"
	"strings"
)

// Field names one canonical field as an Integration names it (spec.fields: [name, email, phone]).
type Field string

// The canonical fields. A field is the unit of authorization: a practice authorizes "address", not
// "city"; a field moves whole or not at all.
const (
	// FieldName is the patient's given, family and display name.
	FieldName Field = "name"
	// FieldEmail is the patient's primary email address.
	FieldEmail Field = "email"
	// FieldPhone is the patient's primary phone number.
	FieldPhone Field = "phone"
	// FieldDateOfBirth is the patient's date of birth.
	FieldDateOfBirth Field = "dateOfBirth"
	// FieldSex is the patient's administrative sex.
	FieldSex Field = "sex"
	// FieldAddress is the patient's postal address.
	FieldAddress Field = "address"
)

// Class says how sensitive a field is and so where it may go.
type Class int

const (
	// ClassIdentifying fields are what a destination needs to tell one patient from another (the
	// minimum the practice's billing or CRM system must hold). They may go to any destination the
	// practice authorized.
	ClassIdentifying Class = iota + 1
	// ClassPHI fields are protected health information beyond that minimum. They may go only to a
	// destination the platform has marked as covered by a business associate agreement (BAA).
	ClassPHI
)

func (c Class) String() string {
	switch c {
	case ClassIdentifying:
		return "identifying"
	case ClassPHI:
		return "phi"
	default:
		return "unknown"
	}
}

// Spec describes one canonical field.
type Spec struct {
	Field Field
	Class Class
	// Description says what the field carries, for docs and error messages.
	Description string
}

// vocabulary is every canonical field, in the order they are documented. A field that is not here
// does not exist: it cannot be authorized and no codec can emit it.
var vocabulary = []Spec{
	{FieldName, ClassIdentifying, "given, family and display name"},
	{FieldEmail, ClassIdentifying, "primary email address"},
	{FieldPhone, ClassIdentifying, "primary phone number"},
	{FieldDateOfBirth, ClassPHI, "date of birth"},
	{FieldSex, ClassPHI, "administrative sex"},
	{FieldAddress, ClassPHI, "postal address"},
}

// Vocabulary returns every canonical field, in documentation order.
func Vocabulary() []Spec { return slices.Clone(vocabulary) }

// Lookup returns the spec of a field name, and false for a name that is not a canonical field.
func Lookup(f Field) (Spec, bool) {
	i := slices.IndexFunc(vocabulary, func(s Spec) bool { return s.Field == f })
	if i < 0 {
		return Spec{}, false
	}
	return vocabulary[i], true
}

// Set is a set of canonical fields, kept sorted in vocabulary order and without duplicates.
type Set struct{ fields []Field }

// NewSet builds a set of known fields. Use ParseSet for names that come from a user.
func NewSet(fields ...Field) Set {
	var s Set
	for _, spec := range vocabulary {
		if slices.Contains(fields, spec.Field) {
			s.fields = append(s.fields, spec.Field)
		}
	}
	return s
}

// ParseSet turns the field names of an Integration into a Set. An unknown name is an error that
// names it and lists the known ones, so a typo is caught where it was made.
func ParseSet(names []string) (Set, error) {
	fields := make([]Field, 0, len(names))
	for _, n := range names {
		f := Field(n)
		if _, ok := Lookup(f); !ok {
			return Set{}, fmt.Errorf("record: unknown field %q; known fields: %s", n, knownFields())
		}
		fields = append(fields, f)
	}
	return NewSet(fields...), nil
}

func knownFields() string {
	names := make([]string, 0, len(vocabulary))
	for _, spec := range vocabulary {
		names = append(names, string(spec.Field))
	}
	return strings.Join(names, ", ")
}

// Has says whether the set holds a field.
func (s Set) Has(f Field) bool { return slices.Contains(s.fields, f) }

// Fields returns the set's fields in vocabulary order.
func (s Set) Fields() []Field { return slices.Clone(s.fields) }

// Of returns the fields of the set that are of a class, in vocabulary order.
func (s Set) Of(c Class) []Field {
	var out []Field
	for _, f := range s.fields {
		if spec, _ := Lookup(f); spec.Class == c {
			out = append(out, f)
		}
	}
	return out
}

// Missing returns the fields of want that the set does not hold, in vocabulary order.
func (s Set) Missing(want Set) []Field {
	var out []Field
	for _, f := range want.fields {
		if !s.Has(f) {
			out = append(out, f)
		}
	}
	return out
}

// Intersect returns the fields that are in both sets.
func (s Set) Intersect(o Set) Set {
	var fields []Field
	for _, f := range s.fields {
		if o.Has(f) {
			fields = append(fields, f)
		}
	}
	return Set{fields: fields}
}

func (s Set) String() string {
	names := make([]string, len(s.fields))
	for i, f := range s.fields {
		names[i] = string(f)
	}
	return strings.Join(names, ",")
}

// DefaultMinimum is the field set of an Integration that names none: the minimum that identifies a
// patient at every destination. Each destination's codec declares what it needs (QuickBooks a
// name, Zoho CRM a last name, GoHighLevel an email or a phone) and a test holds every one of those
// to this set, so the default never leaves a destination unable to tell patients apart. It holds no
// PHI-class field.
func DefaultMinimum() Set { return NewSet(FieldName, FieldEmail, FieldPhone) }
