// Package record is the canonical patient record: the one shape every source is decoded into and
// every destination is encoded from, and the vocabulary of fields a practice authorizes.
//
// The record holds only fields of the vocabulary (fields.go) plus metadata that no codec encodes:
// where the record came from and when it changed. It has no free-form part, so a clinical note, a
// questionnaire answer or any other property of a source object has nowhere to go: a source codec
// keeps what maps to a canonical field and drops the rest. Authorize then drops every canonical
// field the practice did not authorize, before any destination codec sees the record.
package record

import (
	"fmt"
	"strings"
	"time"
)

// Patient is one patient in canonical form. Its values pass through memory only: never log them,
// never put them in errors.
type Patient struct {
	// Source is where the record was read from. It is metadata: no destination codec encodes it,
	// so one system's IDs never reach another system by accident.
	Source Source
	// UpdatedAt is when the source last changed the patient; metadata like Source.
	UpdatedAt time.Time

	Name        Name    // FieldName
	Email       string  // FieldEmail
	Phone       string  // FieldPhone
	DateOfBirth Date    // FieldDateOfBirth
	Sex         Sex     // FieldSex
	Address     Address // FieldAddress
}

// Source identifies a record in the system it was read from.
type Source struct {
	// System is the system's name as an Integration names it (cerbo, quickbooks, ...).
	System string
	// ID is the record's identifier in that system.
	ID string
}

// Name is a patient's name. Display is how the source shows the whole name, when it has one.
type Name struct {
	Given   string
	Middle  string
	Family  string
	Display string
}

// IsZero says whether no part of the name is set.
func (n Name) IsZero() bool { return n == Name{} }

// Full is the whole name: Display when the source has one, else the parts that are set, in order.
func (n Name) Full() string {
	if n.Display != "" {
		return n.Display
	}
	return joinNonEmpty(" ", n.Given, n.Middle, n.Family)
}

// Address is a postal address.
type Address struct {
	Line1      string
	Line2      string
	City       string
	Region     string // state, province or county
	PostalCode string
	Country    string
}

// IsZero says whether no part of the address is set.
func (a Address) IsZero() bool { return a == Address{} }

// Street is the address lines as one line, for destinations that have a single street property.
func (a Address) Street() string { return joinNonEmpty(", ", a.Line1, a.Line2) }

func joinNonEmpty(sep string, parts ...string) string {
	kept := make([]string, 0, len(parts))
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

// Date is a calendar date without a time zone (a date of birth is not an instant).
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate reads an ISO 8601 calendar date (2006-01-02).
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("record: a date must be YYYY-MM-DD")
	}
	return Date{Year: t.Year(), Month: t.Month(), Day: t.Day()}, nil
}

// IsZero says whether the date is unset.
func (d Date) IsZero() bool { return d == Date{} }

// String is the ISO 8601 form, or "" for an unset date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// Sex is a patient's administrative sex, in the value set of HL7 FHIR AdministrativeGender.
type Sex string

const (
	SexFemale  Sex = "female"
	SexMale    Sex = "male"
	SexOther   Sex = "other"
	SexUnknown Sex = "unknown"
)

// Authorize returns the patient with every field that fields does not hold cleared. Metadata
// (Source, UpdatedAt) is kept: the runtime needs it and no codec encodes it. Authorize is the one
// place that decides what a destination may see; destination codecs encode what is left.
func Authorize(p Patient, fields Set) Patient {
	out := Patient{Source: p.Source, UpdatedAt: p.UpdatedAt}
	if fields.Has(FieldName) {
		out.Name = p.Name
	}
	if fields.Has(FieldEmail) {
		out.Email = p.Email
	}
	if fields.Has(FieldPhone) {
		out.Phone = p.Phone
	}
	if fields.Has(FieldDateOfBirth) {
		out.DateOfBirth = p.DateOfBirth
	}
	if fields.Has(FieldSex) {
		out.Sex = p.Sex
	}
	if fields.Has(FieldAddress) {
		out.Address = p.Address
	}
	return out
}

// Present returns the fields that hold a value, in vocabulary order.
func (p Patient) Present() Set {
	var fields []Field
	if !p.Name.IsZero() {
		fields = append(fields, FieldName)
	}
	if p.Email != "" {
		fields = append(fields, FieldEmail)
	}
	if p.Phone != "" {
		fields = append(fields, FieldPhone)
	}
	if !p.DateOfBirth.IsZero() {
		fields = append(fields, FieldDateOfBirth)
	}
	if p.Sex != "" {
		fields = append(fields, FieldSex)
	}
	if !p.Address.IsZero() {
		fields = append(fields, FieldAddress)
	}
	return NewSet(fields...)
}
