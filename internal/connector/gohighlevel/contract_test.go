package gohighlevel

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

// TestRefusalOfBodiesTheDefinitionRejects plays the source-object-forwarding runtime against the
// contract: a raw source patient sent as a contact is refused with GoHighLevel's 422 shape, naming
// each property and never carrying a value.
func TestRefusalOfBodiesTheDefinitionRejects(t *testing.T) {
	d, err := ContactDefinition()
	if err != nil {
		t.Fatal(err)
	}
	body := `{"id":"P-10042","first_name":"Ada","dob":"1984-03-07","clinical_note":"hypertension"}`
	status, answer := Refusal(d.Check([]byte(body)))
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", status)
	}
	var got Unprocessable
	if err := json.Unmarshal(answer, &got); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"(body): missing one of email, phone",
		"clinical_note: unknown property",
		"dob: unknown property",
		"first_name: unknown property",
		"id: unknown property",
		"locationId: missing required property",
	}
	if got.StatusCode != 422 || got.Error != "Unprocessable Entity" || !slices.Equal(got.Message, want) {
		t.Fatalf("answer = %s", answer)
	}
	for _, value := range []string{"hypertension", "P-10042", "1984-03-07"} {
		if bytes.Contains(answer, []byte(value)) {
			t.Errorf("the refusal carries the value %q", value)
		}
	}
}
