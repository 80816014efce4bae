package zoho

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/record"
)

// System is Zoho CRM's name as an Integration names it, and the Source.System of a decoded patient.
const System = "zoho"

// The list endpoint's limits (GET /crm/v8/{module}, testdata/SOURCE.md): page numbers reach the
// first 2,000 records (pages 1 to 10 of at most 200); beyond them only page_token pages on.
const (
	MaxPerPage = 200
	MaxPages   = 10
)

//go:embed testdata/contacts-list.json
var contactsListJSON []byte

// ContactsListDefinition is the answer of GET /crm/v8/Contacts as kept in
// testdata/contacts-list.json: what Decode reads is tested against it, and a fake of Zoho CRM
// answers only what it allows.
func ContactsListDefinition() (*contract.Definition, error) {
	return contract.ParseJSON(contactsListJSON)
}

// Listed is what the list endpoint returns of a Contact besides the fields the codec maps.
type Listed struct {
	// ID is the Contact's record ID, a number Zoho sends as a string (or, per the OAS, an int64).
	ID           json.Number `json:"id"`
	ModifiedTime string      `json:"Modified_Time"`
}

// ListFields are the field API names a list request asks for (its required fields parameter):
// those the codec maps and Modified_Time. Zoho returns id with every record; nothing else is read,
// so nothing else is requested.
func ListFields() []string {
	fields := []string{"Modified_Time"}
	t := reflect.TypeOf(Contact{})
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		fields = append(fields, name)
	}
	return fields
}

// Decode reads one Contact of a list answer into the canonical record. It keeps the fields that
// map to canonical ones and nothing else. Its errors name the field, never the value or the
// Contact's ID (a patient's ID is not for logs).
func Decode(data []byte) (record.Patient, error) {
	var c Contact
	var meta Listed
	if err := json.Unmarshal(data, &c); err != nil {
		return record.Patient{}, fmt.Errorf("zoho: a Contact is not the expected JSON: %w", errorWithoutValue(err))
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return record.Patient{}, fmt.Errorf("zoho: a Contact is not the expected JSON: %w", errorWithoutValue(err))
	}
	if meta.ID == "" {
		return record.Patient{}, errors.New("zoho: a Contact has no id")
	}
	p := record.Patient{
		Source: record.Source{System: System, ID: meta.ID.String()},
		Name:   record.Name{Given: c.FirstName, Family: c.LastName},
		Email:  c.Email,
		Phone:  c.Phone,
		Address: record.Address{
			Line1: c.MailingStreet, City: c.MailingCity, Region: c.MailingState, PostalCode: c.MailingZip, Country: c.MailingCountry,
		},
	}
	if meta.ModifiedTime != "" {
		t, err := time.Parse(time.RFC3339, meta.ModifiedTime)
		if err != nil {
			return record.Patient{}, errors.New("zoho: a Contact's Modified_Time is not an ISO 8601 date-time")
		}
		p.UpdatedAt = t.UTC()
	}
	if c.DateOfBirth != "" {
		d, err := record.ParseDate(c.DateOfBirth)
		if err != nil {
			return record.Patient{}, errors.New("zoho: a Contact's Date_of_Birth is not a YYYY-MM-DD date")
		}
		p.DateOfBirth = d
	}
	return p, nil
}

// errorWithoutValue keeps what a JSON error says about the structure: a syntax error or a type
// mismatch names a field and a type, never a value.
func errorWithoutValue(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Errorf("%s is a JSON %s, not a %s", typeErr.Field, typeErr.Value, typeErr.Type)
	}
	return fmt.Errorf("malformed JSON")
}
