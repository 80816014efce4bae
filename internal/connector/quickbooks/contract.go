package quickbooks

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
)

//go:embed testdata/customer.xsd
var customerXSD []byte

// CustomerDefinition is Intuit's Customer definition as kept in testdata/customer.xsd: what the
// codec is tested against and what a fake of QuickBooks accepts.
func CustomerDefinition() (*contract.Definition, error) {
	return contract.ParseXSD(customerXSD, "quickbooks", "Customer", MinorVersion)
}

// Error codes of Intuit's Accounting API: 6080 is "No Name Provided" (one of Title, GivenName,
// MiddleName, FamilyName, DisplayName, Suffix must be non-empty), 2010 an invalid or unsupported
// property. Other violations of the kept definition are answered as 2010 too: the codes Intuit
// uses for them are not in the kept sources.
const (
	codeNoName          = "6080"
	codeInvalidProperty = "2010"
)

// Fault is the error body of the Accounting API.
type Fault struct {
	Fault struct {
		Error []FaultError `json:"Error"`
		Type  string       `json:"type"`
	} `json:"Fault"`
}

// FaultError is one error of a Fault. Element names the property; Detail never holds a value.
type FaultError struct {
	Message string `json:"Message"`
	Detail  string `json:"Detail"`
	Code    string `json:"code"`
	Element string `json:"element,omitempty"`
}

// Refusal is QuickBooks' answer to a body with these violations of the Customer definition: HTTP
// 400 and a ValidationFault with one error per violation.
func Refusal(violations []contract.Violation) (int, []byte) {
	var f Fault
	f.Fault.Type = "ValidationFault"
	for _, v := range violations {
		e := FaultError{Code: codeInvalidProperty, Message: "Request has invalid or unsupported property", Element: v.Path, Detail: v.String()}
		if v.Kind == contract.MissingOneOf {
			e = FaultError{Code: codeNoName, Message: "No Name Provided", Detail: strings.Join(v.Group, ", ") + " - one of these must be non-empty"}
		}
		f.Fault.Error = append(f.Fault.Error, e)
	}
	body, _ := json.Marshal(f)
	return http.StatusBadRequest, body
}
