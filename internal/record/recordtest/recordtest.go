// Package recordtest holds the fixtures codec tests share: a patient whose every field carries a
// distinctive marker, and a byte-level check that an encoded body holds the markers of the fields
// that may reach it and none of the others.
package recordtest

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/record"
)

// SourceID is the planted patient's ID in its source; it must never reach a destination body.
const SourceID = "SRC-7731-PATIENT"

// markers are the byte strings by which each field of the planted patient is recognised in a
// body. Dates are listed in every format a vendor might take, so a date that leaks in another
// format is still caught.
var markers = map[record.Field][]string{
	record.FieldName:        {"Ignatia", "Quillfeather", "Ignatia Quillfeather"},
	record.FieldEmail:       {"ignatia.q@example.org"},
	record.FieldPhone:       {"+1 555 0199"},
	record.FieldDateOfBirth: {"1961-11-23", "11/23/1961", "23/11/1961", "1961/11/23"},
	record.FieldSex:         {"female"},
	record.FieldAddress:     {"77 Larkspur Row", "Flat 9", "Wexford Falls", "Nevada", "89011", "United States"},
}

// Planted returns a patient with every canonical field set to a marker.
func Planted() record.Patient {
	return record.Patient{
		Source:      record.Source{System: "cerbo", ID: SourceID},
		UpdatedAt:   time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC),
		Name:        record.Name{Given: "Ignatia", Family: "Quillfeather", Display: "Ignatia Quillfeather"},
		Email:       "ignatia.q@example.org",
		Phone:       "+1 555 0199",
		DateOfBirth: record.Date{Year: 1961, Month: time.November, Day: 23},
		Sex:         record.SexFemale,
		Address: record.Address{
			Line1: "77 Larkspur Row", Line2: "Flat 9", City: "Wexford Falls", Region: "Nevada", PostalCode: "89011", Country: "United States",
		},
	}
}

// FieldSets are the authorizations every codec is tested under: none, the default, each field
// alone, and everything.
func FieldSets() map[string]record.Set {
	sets := map[string]record.Set{
		"none":            record.NewSet(),
		"default minimum": record.DefaultMinimum(),
	}
	var all []record.Field
	for _, spec := range record.Vocabulary() {
		sets["only "+string(spec.Field)] = record.NewSet(spec.Field)
		all = append(all, spec.Field)
	}
	sets["everything"] = record.NewSet(all...)
	return sets
}

// AssertOnly fails the test unless body holds the markers of every field in want and no marker of
// any other field, and never the planted source ID. want is what the destination may receive: the
// authorized fields that it can hold.
func AssertOnly(t *testing.T, body []byte, want record.Set) {
	t.Helper()
	if bytes.Contains(body, []byte(SourceID)) {
		t.Errorf("the source's patient ID reached the body")
	}
	for _, spec := range record.Vocabulary() {
		for _, m := range markers[spec.Field] {
			found := bytes.Contains(body, []byte(m))
			if !want.Has(spec.Field) && found {
				t.Errorf("field %s was not authorized, but %q is in the body", spec.Field, m)
			}
		}
		if want.Has(spec.Field) && !containsAny(body, markers[spec.Field]) {
			t.Errorf("field %s was authorized and is held by the destination, but is not in the body", spec.Field)
		}
	}
}

func containsAny(body []byte, ms []string) bool {
	for _, m := range ms {
		if bytes.Contains(body, []byte(m)) {
			return true
		}
	}
	return false
}

// EachAuthorization runs test once per field set of FieldSets, as a subtest, with the planted
// patient reduced to that set by record.Authorize: what a destination codec is given.
func EachAuthorization(t *testing.T, test func(t *testing.T, fields record.Set, authorized record.Patient)) {
	t.Helper()
	for name, fields := range FieldSets() {
		t.Run(name, func(t *testing.T) { test(t, fields, record.Authorize(Planted(), fields)) })
	}
}

// MustJSON is the JSON encoding of v, the bytes a codec's body goes out as.
func MustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
