// Package quickbooks is QuickBooks Online's side of the data plane: the codec between the canonical
// patient record and the Accounting API's Customer entity.
//
// The codec follows Intuit's published v3 entity definitions, kept as an excerpt in
// testdata/customer.xsd (source and licence in testdata/SOURCE.md), and the Accounting API at minor
// version 75, the version every request is answered with since Intuit retired 1-74. Tests check
// every property the codec can emit against that definition.
package quickbooks

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/record"
)

// MinorVersion is the Accounting API minor version the codec follows.
const MinorVersion = "75"

// Holds is the set of canonical fields a Customer can hold. A Customer has no date of birth and no
// sex: those fields are never encoded, whatever the Integration authorizes.
var Holds = record.NewSet(record.FieldName, record.FieldEmail, record.FieldPhone, record.FieldAddress)

// Needs is what a created Customer must carry: one of its name elements.
var Needs = record.NewSet(record.FieldName)

// Customer is the body of a Customer create or sparse update. Only properties the codec fills are
// declared, so nothing else can be sent.
type Customer struct {
	ID        string `json:"Id,omitempty"`
	SyncToken string `json:"SyncToken,omitempty"`
	// Sparse marks an update that changes only the properties it names.
	Sparse bool `json:"sparse,omitempty"`

	GivenName        string           `json:"GivenName,omitempty"`
	MiddleName       string           `json:"MiddleName,omitempty"`
	FamilyName       string           `json:"FamilyName,omitempty"`
	DisplayName      string           `json:"DisplayName,omitempty"`
	PrimaryPhone     *TelephoneNumber `json:"PrimaryPhone,omitempty"`
	PrimaryEmailAddr *EmailAddress    `json:"PrimaryEmailAddr,omitempty"`
	BillAddr         *PhysicalAddress `json:"BillAddr,omitempty"`
}

// TelephoneNumber is a phone number in free form.
type TelephoneNumber struct {
	FreeFormNumber string `json:"FreeFormNumber"`
}

// EmailAddress is an email address.
type EmailAddress struct {
	Address string `json:"Address"`
}

// PhysicalAddress is a postal address.
type PhysicalAddress struct {
	Line1                  string `json:"Line1,omitempty"`
	Line2                  string `json:"Line2,omitempty"`
	City                   string `json:"City,omitempty"`
	CountrySubDivisionCode string `json:"CountrySubDivisionCode,omitempty"`
	PostalCode             string `json:"PostalCode,omitempty"`
	Country                string `json:"Country,omitempty"`
}

// maxLength is the longest value, in characters, the definition allows for each property the
// codec fills (a test holds it to testdata/customer.xsd). A longer value is refused rather than
// cut: a shortened name or address would be a different patient's record.
var maxLength = map[string]int{
	"GivenName":                       25,
	"MiddleName":                      15,
	"FamilyName":                      15,
	"PrimaryPhone.FreeFormNumber":     21,
	"PrimaryEmailAddr.Address":        100,
	"BillAddr.Line1":                  500,
	"BillAddr.Line2":                  500,
	"BillAddr.City":                   255,
	"BillAddr.CountrySubDivisionCode": 255,
	"BillAddr.PostalCode":             30,
	"BillAddr.Country":                255,
}

// nameElements are the name properties of which the definition requires at least one; of them the
// codec fills GivenName, MiddleName and FamilyName.
var nameElements = []string{"Title", "GivenName", "MiddleName", "FamilyName", "Suffix"}

// refusal is the error for a patient the codec cannot encode.
func refusal(property, reason string) error {
	return &contract.EncodeError{Vendor: "quickbooks", Entity: "Customer", Property: property, Reason: reason}
}

// NewCustomer encodes the body that creates a Customer for a patient. Pass the patient through
// record.Authorize first: the codec encodes every field it holds.
func NewCustomer(p record.Patient) (Customer, error) {
	c := encode(p)
	if c.GivenName == "" && c.MiddleName == "" && c.FamilyName == "" {
		return Customer{}, refusal(strings.Join(nameElements, "|"),
			"a Customer needs one of these name elements; the patient has no authorized given, middle or family name")
	}
	return c, validate(c)
}

// SparseUpdate encodes the body that updates Customer id at its current syncToken. It is sparse:
// QuickBooks changes only the properties it names and keeps every other property of the Customer
// (the practice's own notes, terms, tax settings) as it is. It names only the fields the patient
// holds after authorization, so a field the practice did not authorize, or one the source left
// empty, is never cleared at the destination.
func SparseUpdate(p record.Patient, id, syncToken string) (Customer, error) {
	if id == "" {
		return Customer{}, refusal("Id", "an update needs the Customer's Id")
	}
	if syncToken == "" {
		return Customer{}, refusal("SyncToken", "an update needs the Customer's current SyncToken")
	}
	c := encode(p)
	c.ID, c.SyncToken, c.Sparse = id, syncToken, true
	return c, validate(c)
}

func encode(p record.Patient) Customer {
	var c Customer
	if n := p.Name; !n.IsZero() {
		c.GivenName, c.MiddleName, c.FamilyName = n.Given, n.Middle, n.Family
		c.DisplayName = n.Full()
	}
	if p.Phone != "" {
		c.PrimaryPhone = &TelephoneNumber{FreeFormNumber: p.Phone}
	}
	if p.Email != "" {
		c.PrimaryEmailAddr = &EmailAddress{Address: p.Email}
	}
	if a := p.Address; !a.IsZero() {
		c.BillAddr = &PhysicalAddress{
			Line1: a.Line1, Line2: a.Line2, City: a.City, CountrySubDivisionCode: a.Region, PostalCode: a.PostalCode, Country: a.Country,
		}
	}
	return c
}

func validate(c Customer) error {
	values := map[string]string{"GivenName": c.GivenName, "MiddleName": c.MiddleName, "FamilyName": c.FamilyName}
	if c.PrimaryPhone != nil {
		values["PrimaryPhone.FreeFormNumber"] = c.PrimaryPhone.FreeFormNumber
	}
	if c.PrimaryEmailAddr != nil {
		values["PrimaryEmailAddr.Address"] = c.PrimaryEmailAddr.Address
	}
	if a := c.BillAddr; a != nil {
		values["BillAddr.Line1"], values["BillAddr.Line2"], values["BillAddr.City"] = a.Line1, a.Line2, a.City
		values["BillAddr.CountrySubDivisionCode"], values["BillAddr.PostalCode"], values["BillAddr.Country"] = a.CountrySubDivisionCode, a.PostalCode, a.Country
	}
	for _, property := range slices.Sorted(maps.Keys(maxLength)) {
		if utf8.RuneCountInString(values[property]) > maxLength[property] {
			return refusal(property, fmt.Sprintf("longer than the %d characters QuickBooks accepts", maxLength[property]))
		}
	}
	if c.PrimaryEmailAddr != nil && !strings.Contains(c.PrimaryEmailAddr.Address, "@") {
		return refusal("PrimaryEmailAddr.Address", "not an email address")
	}
	if strings.Contains(c.DisplayName, ":") {
		// The definition's business rules: a customer name must not contain a colon.
		return refusal("DisplayName", "contains a colon, which QuickBooks refuses in a customer name")
	}
	return nil
}

// Decode reads a Customer the Accounting API answered into a canonical patient: its name parts and
// display name, primary email and phone, and billing address. Customer declares nothing else, so
// every other property of the answer (notes, balances, terms, custom fields) is dropped while it is
// decoded. The record's update time is the caller's to set from the answer's MetaData.
func Decode(c Customer) record.Patient {
	p := record.Patient{
		Source: record.Source{System: "quickbooks", ID: c.ID},
		Name:   record.Name{Given: c.GivenName, Middle: c.MiddleName, Family: c.FamilyName, Display: c.DisplayName},
	}
	if c.PrimaryEmailAddr != nil {
		p.Email = c.PrimaryEmailAddr.Address
	}
	if c.PrimaryPhone != nil {
		p.Phone = c.PrimaryPhone.FreeFormNumber
	}
	if a := c.BillAddr; a != nil {
		p.Address = record.Address{Line1: a.Line1, Line2: a.Line2, City: a.City, Region: a.CountrySubDivisionCode, PostalCode: a.PostalCode, Country: a.Country}
	}
	return p
}
