// Package webhook is the generic webhook's side of the data plane: the canonical patient as a
// delivery's JSON, both ways.
//
// The delivery format is tenantwire's own, published as a JSON Schema in
// testdata/delivery.schema.json (documented in the README's "What the sync moves"). Tests check
// every delivery the webhook destination sends against it; the webhook source accepts nothing
// else.
package webhook

import (
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/record"
)

// System is the webhook's name as an Integration names it.
const System = "webhook"

// Holds is the set of canonical fields a delivery can carry: all of them.
var Holds = record.NewSet(record.FieldName, record.FieldEmail, record.FieldPhone, record.FieldDateOfBirth, record.FieldSex, record.FieldAddress)

// Delivery is the body of one delivery (schema version 1). Its signature is over these bytes,
// so sent_at and the idempotency key cannot be changed in transit.
type Delivery struct {
	ID             string    `json:"id"`
	UpdatedAt      time.Time `json:"updated_at"`
	Patient        Patient   `json:"patient"`
	IdempotencyKey string    `json:"idempotency_key"`
	SentAt         time.Time `json:"sent_at"`
}

// Patient is a patient's authorized fields; a field that is not authorized is absent.
type Patient struct {
	Name        *Name    `json:"name,omitempty"`
	Email       string   `json:"email,omitempty"`
	Phone       string   `json:"phone,omitempty"`
	DateOfBirth string   `json:"dateOfBirth,omitempty"`
	Sex         string   `json:"sex,omitempty"`
	Address     *Address `json:"address,omitempty"`
}

// Name is the name field.
type Name struct {
	Given   string `json:"given,omitempty"`
	Middle  string `json:"middle,omitempty"`
	Family  string `json:"family,omitempty"`
	Display string `json:"display,omitempty"`
}

// Address is the address field.
type Address struct {
	Line1      string `json:"line1,omitempty"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city,omitempty"`
	Region     string `json:"region,omitempty"`
	PostalCode string `json:"postalCode,omitempty"`
	Country    string `json:"country,omitempty"`
}

// Encode is the delivery form of a patient. Pass the patient through record.Authorize first: the
// codec encodes every field it holds. Source and UpdatedAt are metadata and are not encoded.
func Encode(p record.Patient) Patient {
	out := Patient{Email: p.Email, Phone: p.Phone, DateOfBirth: p.DateOfBirth.String(), Sex: string(p.Sex)}
	if n := p.Name; !n.IsZero() {
		out.Name = &Name{Given: n.Given, Middle: n.Middle, Family: n.Family, Display: n.Display}
	}
	if a := p.Address; !a.IsZero() {
		out.Address = &Address{Line1: a.Line1, Line2: a.Line2, City: a.City, Region: a.Region, PostalCode: a.PostalCode, Country: a.Country}
	}
	return out
}

// Decode reads a delivered patient. A date of birth or sex outside the schema's values is an
// error naming the property, never the value.
func Decode(p Patient) (record.Patient, error) {
	out := record.Patient{Email: p.Email, Phone: p.Phone}
	if n := p.Name; n != nil {
		out.Name = record.Name{Given: n.Given, Middle: n.Middle, Family: n.Family, Display: n.Display}
	}
	if a := p.Address; a != nil {
		out.Address = record.Address{Line1: a.Line1, Line2: a.Line2, City: a.City, Region: a.Region, PostalCode: a.PostalCode, Country: a.Country}
	}
	if p.DateOfBirth != "" {
		d, err := record.ParseDate(p.DateOfBirth)
		if err != nil {
			return record.Patient{}, refusal("patient.dateOfBirth", "not a date in the form YYYY-MM-DD")
		}
		out.DateOfBirth = d
	}
	switch s := record.Sex(p.Sex); s {
	case "":
	case record.SexFemale, record.SexMale, record.SexOther, record.SexUnknown:
		out.Sex = s
	default:
		return record.Patient{}, refusal("patient.sex", "not one of female, male, other, unknown")
	}
	return out, nil
}

func refusal(property, reason string) error {
	return &contract.EncodeError{Vendor: System, Entity: "delivery", Property: property, Reason: reason}
}
