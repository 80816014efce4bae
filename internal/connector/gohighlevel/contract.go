package gohighlevel

import (
	_ "embed"
	"encoding/json"
	"net/http"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
)

//go:embed testdata/contacts-upsert.json
var contactsUpsertJSON []byte

// ContactDefinition is the contact upsert body as kept in testdata/contacts-upsert.json: what the
// codec is tested against and what a fake of GoHighLevel accepts.
func ContactDefinition() (*contract.Definition, error) {
	return contract.ParseJSON(contactsUpsertJSON)
}

// Unprocessable is GoHighLevel's 422 body (UnprocessableDTO in its OpenAPI specification).
type Unprocessable struct {
	StatusCode int      `json:"statusCode"`
	Message    []string `json:"message"`
	Error      string   `json:"error"`
}

// Refusal is GoHighLevel's answer to a body with these violations of the contact definition: HTTP
// 422 with one message per violation, naming the property and never its value.
func Refusal(violations []contract.Violation) (int, []byte) {
	out := Unprocessable{StatusCode: http.StatusUnprocessableEntity, Error: "Unprocessable Entity"}
	for _, v := range violations {
		out.Message = append(out.Message, v.String())
	}
	body, _ := json.Marshal(out)
	return http.StatusUnprocessableEntity, body
}
