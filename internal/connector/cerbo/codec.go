// Package cerbo is Cerbo EHR's side of the data plane: the codec between a Cerbo patient object
// and the canonical patient record.
//
// Cerbo's published patient schema could not be found (testdata/SOURCE.md says where it was
// looked for). The codec therefore follows tenantwire's MODEL of a Cerbo patient, kept in
// testdata/patient-model.json: an assumption of this project pending Cerbo's OpenAPI file, not
// Cerbo's definition. Tests hold the codec's types to the model, so replacing the model with
// Cerbo's own definition shows every place the codec has to change.
package cerbo

import (
	"cmp"
	_ "embed"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/record"
)

// System is Cerbo's name as an Integration names it.
const System = "cerbo"

//go:embed testdata/patient-model.json
var patientModelJSON []byte

// PatientModel is tenantwire's model of a Cerbo patient (testdata/patient-model.json), not
// Cerbo's definition: what the codec is tested against and what a fake of Cerbo may accept.
func PatientModel() (*contract.Definition, error) {
	return contract.ParseJSON(patientModelJSON)
}

// Holds is the set of canonical fields a Cerbo patient can hold.
var Holds = record.NewSet(record.FieldName, record.FieldEmail, record.FieldPhone, record.FieldDateOfBirth, record.FieldSex, record.FieldAddress)

// Needs is what a created patient must carry: a first and a last name.
var Needs = record.NewSet(record.FieldName)

// Patient is a Cerbo patient object as the API answers it, reduced to the properties of the
// model. Decoding a Cerbo answer into it drops every other property (clinical notes,
// questionnaires, insurance, ...) before any of it is kept in memory as a value.
type Patient struct {
	// ID is an integer in the model; json.Number keeps it exact and also takes a numeric string.
	ID        json.Number `json:"id"`
	UpdatedAt string      `json:"updated_at"`
	Body
}

// Body is the body of a create (POST /patients) or an update (PATCH /patients/{id}): the
// patient's properties of the model without its ID and time, which Cerbo assigns.
type Body struct {
	FirstName   string `json:"first_name,omitempty"`
	MiddleName  string `json:"middle_name,omitempty"`
	LastName    string `json:"last_name,omitempty"`
	DOB         string `json:"dob,omitempty"`
	Sex         string `json:"sex,omitempty"`
	Email1      string `json:"email1,omitempty"`
	PhoneMobile string `json:"phone_mobile,omitempty"`
	PhoneHome   string `json:"phone_home,omitempty"`
	Address1    string `json:"address1,omitempty"`
	Address2    string `json:"address2,omitempty"`
	City        string `json:"city,omitempty"`
	State       string `json:"state,omitempty"`
	Zip         string `json:"zip,omitempty"`
	Country     string `json:"country,omitempty"`
}

// sexCodes are the model's one-letter codes for each canonical sex.
var sexCodes = map[record.Sex]string{
	record.SexFemale:  "F",
	record.SexMale:    "M",
	record.SexOther:   "O",
	record.SexUnknown: "U",
}

// ErrNoID is the error for a patient object without an ID: nothing could tell it apart.
var ErrNoID = errors.New("cerbo: a patient object has no id")

// Decode turns a patient Cerbo answered into a canonical patient. Only properties of the model
// are read. A value that does not fit its canonical field (a dob that is not YYYY-MM-DD, a sex
// outside F, M, O, U) leaves that field unset rather than guessing; an updated_at that is not RFC
// 3339 leaves UpdatedAt zero. A patient without an id is an error (ErrNoID).
func Decode(p Patient) (record.Patient, error) {
	id := p.ID.String()
	if id == "" {
		return record.Patient{}, ErrNoID
	}
	out := record.Patient{
		Source: record.Source{System: System, ID: id},
		Name:   record.Name{Given: p.FirstName, Middle: p.MiddleName, Family: p.LastName},
		Email:  p.Email1,
		Phone:  cmp.Or(p.PhoneMobile, p.PhoneHome),
		Address: record.Address{
			Line1: p.Address1, Line2: p.Address2, City: p.City, Region: p.State, PostalCode: p.Zip, Country: p.Country,
		},
	}
	if t, err := time.Parse(time.RFC3339Nano, p.UpdatedAt); err == nil {
		out.UpdatedAt = t.UTC()
	}
	if d, err := record.ParseDate(p.DOB); err == nil {
		out.DateOfBirth = d
	}
	for sex, code := range sexCodes {
		if strings.EqualFold(p.Sex, code) {
			out.Sex = sex
		}
	}
	return out, nil
}

// refusal is the error for a patient the codec cannot encode.
func refusal(property, reason string) error {
	return &contract.EncodeError{Vendor: System, Entity: "patient", Property: property, Reason: reason}
}

// NewPatient encodes the body that creates a Cerbo patient. Pass the patient through
// record.Authorize first: the codec encodes every field it holds.
func NewPatient(p record.Patient) (Body, error) {
	b := encode(p)
	switch {
	case b.FirstName == "":
		return Body{}, refusal("first_name", "a Cerbo patient needs a first name; the patient has no authorized given name")
	case b.LastName == "":
		return Body{}, refusal("last_name", "a Cerbo patient needs a last name; the patient has no authorized family name")
	}
	return b, nil
}

// Patch encodes the body that updates a Cerbo patient. It names only the fields the patient holds
// after authorization, so a field the practice did not authorize is never cleared in Cerbo.
func Patch(p record.Patient) Body { return encode(p) }

func encode(p record.Patient) Body {
	return Body{
		FirstName: p.Name.Given, MiddleName: p.Name.Middle, LastName: p.Name.Family,
		DOB:         p.DateOfBirth.String(),
		Sex:         sexCodes[p.Sex],
		Email1:      p.Email,
		PhoneMobile: p.Phone,
		Address1:    p.Address.Line1, Address2: p.Address.Line2, City: p.Address.City,
		State: p.Address.Region, Zip: p.Address.PostalCode, Country: p.Address.Country,
	}
}
