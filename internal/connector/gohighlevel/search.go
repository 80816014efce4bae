package gohighlevel

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/record"
)

// System is GoHighLevel's name as an Integration names it, and the Source.System of a decoded
// patient.
const System = "gohighlevel"

// MaxPageLimit is the most contacts one search answer holds (pageLimit's documented maximum).
const MaxPageLimit = 500

var (
	//go:embed testdata/contacts-update.json
	contactsUpdateJSON []byte
	//go:embed testdata/contacts-search.json
	contactsSearchJSON []byte
	//go:embed testdata/contact.json
	contactJSON []byte
)

// UpdateDefinition is the body of PUT /contacts/{contactId} as kept in
// testdata/contacts-update.json.
func UpdateDefinition() (*contract.Definition, error) { return contract.ParseJSON(contactsUpdateJSON) }

// SearchDefinition is the body of POST /contacts/search as kept in testdata/contacts-search.json.
func SearchDefinition() (*contract.Definition, error) { return contract.ParseJSON(contactsSearchJSON) }

// ListedDefinition is a contact as the API returns it, as kept in testdata/contact.json: what
// Decode reads is tested against it, and a fake answers only what it allows.
func ListedDefinition() (*contract.Definition, error) { return contract.ParseJSON(contactJSON) }

// Search is the body of POST /contacts/search, the documented replacement of the deprecated
// GET /contacts/ listing.
type Search struct {
	LocationID string   `json:"locationId"`
	Page       int      `json:"page"`
	PageLimit  int      `json:"pageLimit"`
	Filters    []Filter `json:"filters,omitempty"`
	Sort       []Sort   `json:"sort"`
}

// Filter is one search filter; the adapter uses the range operator only.
type Filter struct {
	Field    string `json:"field"`
	Operator string `json:"operator"`
	Value    Range  `json:"value"`
}

// Range bounds a range filter; times are ISO 8601 in UTC with milliseconds.
type Range struct {
	Gte string `json:"gte,omitempty"`
}

// Sort orders search results.
type Sort struct {
	Field     string `json:"field"`
	Direction string `json:"direction"`
}

// NewChangesSearch is the search for the contacts of a location changed at or after since (all
// of them when since is zero), oldest change first: page (from 1) of pageLimit contacts.
func NewChangesSearch(locationID string, since time.Time, page, pageLimit int) Search {
	s := Search{
		LocationID: locationID,
		Page:       page,
		PageLimit:  pageLimit,
		Sort:       []Sort{{Field: "dateUpdated", Direction: "asc"}},
	}
	if !since.IsZero() {
		s.Filters = []Filter{{Field: "dateUpdated", Operator: "range", Value: Range{Gte: since.UTC().Format("2006-01-02T15:04:05.000Z")}}}
	}
	return s
}

// Listed is what Decode reads of a contact in an answer.
type Listed struct {
	ID          string `json:"id"`
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	Name        string `json:"name"`
	Email       string `json:"email"`
	Phone       string `json:"phone"`
	DateOfBirth string `json:"dateOfBirth"`
	Address1    string `json:"address1"`
	City        string `json:"city"`
	State       string `json:"state"`
	PostalCode  string `json:"postalCode"`
	Country     string `json:"country"`
	DateAdded   string `json:"dateAdded"`
	DateUpdated string `json:"dateUpdated"`
}

// Decode reads one contact of an answer into the canonical record: the properties that map to
// canonical fields and nothing else (tags, custom fields, attributions have nowhere to go). The
// published contact has no gender, so sex is not read. Errors name the property, never its value
// or the contact's ID (a patient's ID is not for logs).
func Decode(data []byte) (record.Patient, error) {
	var c Listed
	if err := json.Unmarshal(data, &c); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return record.Patient{}, fmt.Errorf("gohighlevel: a contact's %s is a JSON %s, not a %s", typeErr.Field, typeErr.Value, typeErr.Type)
		}
		return record.Patient{}, errors.New("gohighlevel: a contact is not JSON")
	}
	if c.ID == "" {
		return record.Patient{}, errors.New("gohighlevel: a contact has no id")
	}
	p := record.Patient{
		Source:  record.Source{System: System, ID: c.ID},
		Name:    record.Name{Given: c.FirstName, Family: c.LastName, Display: c.Name},
		Email:   c.Email,
		Phone:   c.Phone,
		Address: record.Address{Line1: c.Address1, City: c.City, Region: c.State, PostalCode: c.PostalCode, Country: c.Country},
	}
	changed := c.DateUpdated
	if changed == "" {
		changed = c.DateAdded
	}
	if changed != "" {
		t, err := time.Parse(time.RFC3339Nano, changed)
		if err != nil {
			return record.Patient{}, errors.New("gohighlevel: a contact's dateUpdated is not an ISO 8601 date-time")
		}
		p.UpdatedAt = t.UTC()
	}
	if c.DateOfBirth != "" {
		// Documented as YYYY-MM-DD; an answer may carry it as midnight of that day.
		d, err := record.ParseDate(c.DateOfBirth[:min(len(c.DateOfBirth), len(time.DateOnly))])
		if err != nil {
			return record.Patient{}, errors.New("gohighlevel: a contact's dateOfBirth is not a YYYY-MM-DD date")
		}
		p.DateOfBirth = d
	}
	return p, nil
}
