// Package zoho is Zoho CRM's side of the data plane: the codec between the canonical patient record
// and a record of the Contacts module.
//
// The codec follows Zoho CRM API v8: the record API's request shape from Zoho's published OpenAPI
// specification and the Contacts module's standard field API names, kept as a derived table in
// testdata/contacts-upsert.json, and the list answer Decode reads, in testdata/contacts-list.json
// (sources in testdata/SOURCE.md). Tests check every property the codec can emit or read against
// those tables.
package zoho

import (
	"fmt"
	"strings"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/record"
)

// APIVersion is the Zoho CRM API version the codec follows.
const APIVersion = "v8"

// Holds is the set of canonical fields a Contact can hold. The standard Contacts layout has no sex
// field: sex is never encoded.
var Holds = record.NewSet(record.FieldName, record.FieldEmail, record.FieldPhone, record.FieldDateOfBirth, record.FieldAddress)

// Needs is what a created Contact must carry: Last_Name, from the name field.
var Needs = record.NewSet(record.FieldName)

// Contact is one record of the Contacts module, by field API name. It has no id: a record's Zoho
// ID goes in the URL of an update, and another system's ID must never be sent as one.
type Contact struct {
	FirstName      string `json:"First_Name,omitempty"`
	LastName       string `json:"Last_Name,omitempty"`
	Email          string `json:"Email,omitempty"`
	Phone          string `json:"Phone,omitempty"`
	DateOfBirth    string `json:"Date_of_Birth,omitempty"`
	MailingStreet  string `json:"Mailing_Street,omitempty"`
	MailingCity    string `json:"Mailing_City,omitempty"`
	MailingState   string `json:"Mailing_State,omitempty"`
	MailingZip     string `json:"Mailing_Zip,omitempty"`
	MailingCountry string `json:"Mailing_Country,omitempty"`
}

// Body is the body of an upsert (POST /crm/v8/Contacts/upsert) or an update
// (PUT /crm/v8/Contacts/{id}).
type Body struct {
	Data []Contact `json:"data"`
	// DuplicateCheckFields are the fields an upsert matches an existing Contact on.
	DuplicateCheckFields []string `json:"duplicate_check_fields,omitempty"`
}

// duplicateCheckField is the Contacts module's system-defined duplicate check field.
const duplicateCheckField = "Email"

// refusal is the error for a patient the codec cannot encode.
func refusal(property, reason string) error {
	return &contract.EncodeError{Vendor: "zoho", Entity: "Contacts", Property: property, Reason: reason}
}

// NewUpsert encodes the body that creates a Contact for a patient, or updates the Contact with the
// same email address. Pass the patient through record.Authorize first: the codec encodes every
// field it holds.
func NewUpsert(p record.Patient) (Body, error) {
	c := encode(p)
	if c.LastName == "" {
		return Body{}, refusal("Last_Name", "a Contact needs a last name; the patient has no authorized family name")
	}
	b := Body{Data: []Contact{c}}
	if c.Email != "" {
		b.DuplicateCheckFields = []string{duplicateCheckField}
	}
	return b, nil
}

// NewUpdate encodes the body that updates a known Contact. It names only the fields the patient
// holds after authorization; Zoho leaves every field a body does not name as it is.
func NewUpdate(p record.Patient) Body {
	return Body{Data: []Contact{encode(p)}}
}

// MaxBatch is the most records one upsert or update body may carry.
const MaxBatch = 100

// IdentifiedContact is a Contact with its Zoho ID, the record form of a body that updates several
// known Contacts at once (PUT /crm/v8/Contacts). The ID is always Zoho's own: the caller's mapping
// of a destination ID, never another system's.
type IdentifiedContact struct {
	ID string `json:"id"`
	Contact
}

// Updates is the body of PUT /crm/v8/Contacts.
type Updates struct {
	Data []IdentifiedContact `json:"data"`
}

// NewUpdates encodes the body that updates the Contacts with Zoho IDs ids[i] from patients[i],
// each naming only the fields its patient holds after authorization.
func NewUpdates(ids []string, patients []record.Patient) (Updates, error) {
	if len(ids) != len(patients) || len(ids) > MaxBatch {
		return Updates{}, refusal("data", fmt.Sprintf("an update body takes 1 to %d records, each with its Zoho ID", MaxBatch))
	}
	u := Updates{Data: make([]IdentifiedContact, len(ids))}
	for i, id := range ids {
		if id == "" {
			return Updates{}, refusal("id", "an update of several Contacts names each by its Zoho ID")
		}
		u.Data[i] = IdentifiedContact{ID: id, Contact: encode(patients[i])}
	}
	return u, nil
}

func encode(p record.Patient) Contact {
	c := Contact{
		FirstName:   strings.TrimSpace(p.Name.Given + " " + p.Name.Middle),
		LastName:    p.Name.Family,
		Email:       p.Email,
		Phone:       p.Phone,
		DateOfBirth: p.DateOfBirth.String(),
	}
	if a := p.Address; !a.IsZero() {
		c.MailingStreet, c.MailingCity, c.MailingState, c.MailingZip, c.MailingCountry = a.Street(), a.City, a.Region, a.PostalCode, a.Country
	}
	return c
}
