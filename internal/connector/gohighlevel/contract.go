package gohighlevel

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"strings"

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

// RefusedProperty is the property a 422 answer names first: X in "property X should not exist"
// (X is a key of the body sent, which the codec chose), or X in "X must be ..." when X is a
// property the contact bodies define. A message that names neither gives "", so the result is
// never a value.
func RefusedProperty(answer []byte) string {
	var out struct {
		Message json.RawMessage `json:"message"`
	}
	var messages []string
	if json.Unmarshal(answer, &out) != nil || json.Unmarshal(out.Message, &messages) != nil {
		return ""
	}
	upsert, err := ContactDefinition()
	if err != nil {
		return ""
	}
	update, err := UpdateDefinition()
	if err != nil {
		return ""
	}
	for _, m := range messages {
		if rest, ok := strings.CutPrefix(m, "property "); ok {
			if name, ok := strings.CutSuffix(rest, " should not exist"); ok && !strings.Contains(name, " ") {
				return name
			}
		}
		name, _, _ := strings.Cut(m, " ")
		name = strings.TrimSuffix(name, ":")
		if upsert.Body.Properties[name] != nil || update.Body.Properties[name] != nil {
			return name
		}
	}
	return ""
}
