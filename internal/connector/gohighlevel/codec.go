// Package gohighlevel is GoHighLevel's side of the data plane: the codec between the canonical
// patient record and a contact of a GoHighLevel location (sub-account).
//
// The codec follows GoHighLevel's API v2 at Version 2021-07-28, from its published OpenAPI
// specification, kept as derived tables under testdata/ (the upsert, update and search bodies and
// the contact as answered; sources and licence in testdata/SOURCE.md). Tests check every property
// the codec can emit or read against those tables.
package gohighlevel

import (
	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/record"
)

// APIVersion is the value of the Version header the contact endpoints take.
const APIVersion = "2021-07-28"

// Holds is the set of canonical fields a contact can hold.
var Holds = record.NewSet(record.FieldName, record.FieldEmail, record.FieldPhone, record.FieldDateOfBirth, record.FieldSex, record.FieldAddress)

// NeedsOneOf are the fields of which an upsert needs at least one: GoHighLevel finds an existing
// contact by email or phone, so with neither every upsert would create a duplicate.
var NeedsOneOf = record.NewSet(record.FieldEmail, record.FieldPhone)

// Contact is the body of POST /contacts/upsert.
type Contact struct {
	LocationID  string `json:"locationId"`
	FirstName   string `json:"firstName,omitempty"`
	LastName    string `json:"lastName,omitempty"`
	Name        string `json:"name,omitempty"`
	Email       string `json:"email,omitempty"`
	Phone       string `json:"phone,omitempty"`
	DateOfBirth string `json:"dateOfBirth,omitempty"`
	Gender      string `json:"gender,omitempty"`
	Address1    string `json:"address1,omitempty"`
	City        string `json:"city,omitempty"`
	State       string `json:"state,omitempty"`
	PostalCode  string `json:"postalCode,omitempty"`
	Country     string `json:"country,omitempty"`
}

// genders maps a canonical sex to GoHighLevel's gender. The specification publishes no value set
// (its example is "male"), so only female and male are sent; other values are left out rather
// than guessed.
var genders = map[record.Sex]string{record.SexFemale: "female", record.SexMale: "male"}

// refusal is the error for a patient the codec cannot encode.
func refusal(property, reason string) error {
	return &contract.EncodeError{Vendor: "gohighlevel", Entity: "contact", Property: property, Reason: reason}
}

// NewUpsert encodes the body that creates or updates the contact of a patient in a location. Pass
// the patient through record.Authorize first: the codec encodes every field it holds. An upsert
// names only the fields the patient holds; GoHighLevel keeps the others as they are.
func NewUpsert(p record.Patient, locationID string) (Contact, error) {
	if locationID == "" {
		return Contact{}, refusal("locationId", "an upsert needs the location (sub-account) ID")
	}
	if p.Email == "" && p.Phone == "" {
		return Contact{}, refusal("email|phone", "an upsert needs an email address or a phone number to find the contact; the patient has neither authorized")
	}
	u := NewUpdate(p)
	return Contact{
		LocationID: locationID,
		FirstName:  u.FirstName, LastName: u.LastName, Name: u.Name, Email: u.Email, Phone: u.Phone,
		DateOfBirth: u.DateOfBirth,
		Gender:      genders[p.Sex],
		Address1:    u.Address1, City: u.City, State: u.State, PostalCode: u.PostalCode, Country: u.Country,
	}, nil
}

// UpdateHolds is the set of canonical fields an update of a known contact can carry: the update
// body (UpdateContactDto) has no gender, so sex reaches a contact only when an upsert creates or
// matches it.
var UpdateHolds = record.NewSet(record.FieldName, record.FieldEmail, record.FieldPhone, record.FieldDateOfBirth, record.FieldAddress)

// Update is the body of PUT /contacts/{contactId}. It has no locationId (the contact belongs to
// one already) and no id: the contact's ID goes in the URL.
type Update struct {
	FirstName   string `json:"firstName,omitempty"`
	LastName    string `json:"lastName,omitempty"`
	Name        string `json:"name,omitempty"`
	Email       string `json:"email,omitempty"`
	Phone       string `json:"phone,omitempty"`
	DateOfBirth string `json:"dateOfBirth,omitempty"`
	Address1    string `json:"address1,omitempty"`
	City        string `json:"city,omitempty"`
	State       string `json:"state,omitempty"`
	PostalCode  string `json:"postalCode,omitempty"`
	Country     string `json:"country,omitempty"`
}

// NewUpdate encodes the body that updates a known contact. It names only the fields the patient
// holds after authorization; GoHighLevel leaves every property a body does not name as it is.
func NewUpdate(p record.Patient) Update {
	u := Update{
		FirstName:   p.Name.Given,
		LastName:    p.Name.Family,
		Name:        p.Name.Full(),
		Email:       p.Email,
		Phone:       p.Phone,
		DateOfBirth: p.DateOfBirth.String(),
	}
	if a := p.Address; !a.IsZero() {
		u.Address1, u.City, u.State, u.PostalCode, u.Country = a.Street(), a.City, a.Region, a.PostalCode, a.Country
	}
	return u
}
