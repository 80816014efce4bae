package zoho

import (
	_ "embed"
	"encoding/json"
	"maps"
	"net/http"
	"strings"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
)

//go:embed testdata/contacts-upsert.json
var contactsUpsertJSON []byte

// ContactsDefinition is the Contacts upsert body as kept in testdata/contacts-upsert.json: what
// the codec is tested against and what a fake of Zoho CRM accepts.
func ContactsDefinition() (*contract.Definition, error) {
	return contract.ParseJSON(contactsUpsertJSON)
}

// ContactsUpdateDefinition is the body of an update of a known Contact (PUT
// /crm/v8/Contacts/{id}): the same Body_Wrapper, where a record may leave Last_Name out because
// Zoho keeps every field an update does not name.
func ContactsUpdateDefinition() (*contract.Definition, error) {
	d, err := ContactsDefinition()
	if err != nil {
		return nil, err
	}
	contact := *d.Body.Properties["data"].Items
	contact.Required = nil
	data := *d.Body.Properties["data"]
	data.Items = &contact
	body := *d.Body
	body.Properties = maps.Clone(d.Body.Properties)
	body.Properties["data"] = &data
	d.Body = &body
	d.Entity = "Contacts update body (Body_Wrapper)"
	return d, nil
}

// Exception is one error of Zoho CRM's API (API_Exception in its OpenAPI specification).
type Exception struct {
	Code    string           `json:"code"`
	Details ExceptionDetails `json:"details"`
	Message string           `json:"message"`
	Status  string           `json:"status"`
}

// ExceptionDetails names the field an Exception is about; never its value.
type ExceptionDetails struct {
	APIName  string `json:"api_name"`
	JSONPath string `json:"json_path"`
}

// Refusal is Zoho CRM's answer to a body with these violations of the Contacts definition: HTTP
// 400 and one exception per violation in "data", MANDATORY_NOT_FOUND ("required field not found")
// for a missing field and INVALID_DATA ("invalid data") for any other, in the shape of the
// specification's examples of record errors.
func Refusal(violations []contract.Violation) (int, []byte) {
	var out struct {
		Data []Exception `json:"data"`
	}
	for _, v := range violations {
		e := Exception{Code: "INVALID_DATA", Message: "invalid data", Status: "error"}
		if v.Kind == contract.MissingRequired || v.Kind == contract.MissingOneOf {
			e.Code, e.Message = "MANDATORY_NOT_FOUND", "required field not found"
		}
		e.Details = ExceptionDetails{APIName: apiName(v.Path), JSONPath: "$." + v.Path}
		out.Data = append(out.Data, e)
	}
	body, _ := json.Marshal(out)
	return http.StatusBadRequest, body
}

// apiName is the field API name at the end of a violation's path (data[0].Last_Name -> Last_Name).
func apiName(path string) string {
	if i := strings.LastIndex(path, "."); i >= 0 {
		return path[i+1:]
	}
	return path
}
