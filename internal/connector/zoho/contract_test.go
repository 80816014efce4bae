package zoho

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

// TestRefusalOfBodiesTheDefinitionRejects plays the source-object-forwarding runtime against the
// contract: a raw source patient sent as a Contact is refused with Zoho's own error shape, naming
// each field by its API name and never carrying a value.
func TestRefusalOfBodiesTheDefinitionRejects(t *testing.T) {
	d, err := ContactsDefinition()
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		body  string
		codes []string
		names []string
	}{
		"raw source object": {
			body:  `{"data":[{"id":"P-10042","last_name":"Lovelace","clinical_note":"hypertension"}]}`,
			codes: []string{"MANDATORY_NOT_FOUND", "INVALID_DATA", "INVALID_DATA"},
			names: []string{"Last_Name", "clinical_note", "last_name"},
		},
		"no data":    {body: `{"duplicate_check_fields":["Email"]}`, codes: []string{"MANDATORY_NOT_FOUND"}, names: []string{"data"}},
		"wrong type": {body: `{"data":[{"Last_Name":"Lovelace","Date_of_Birth":19840307}]}`, codes: []string{"INVALID_DATA"}, names: []string{"Date_of_Birth"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			status, body := Refusal(d.Check([]byte(tc.body)))
			if status != http.StatusBadRequest {
				t.Fatalf("status %d", status)
			}
			var out struct{ Data []Exception }
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatal(err)
			}
			if len(out.Data) != len(tc.codes) {
				t.Fatalf("answer = %s", body)
			}
			for i, e := range out.Data {
				if e.Status != "error" || e.Code != tc.codes[i] || e.Details.APIName != tc.names[i] {
					t.Errorf("exception %d = %+v, want %s on %s", i, e, tc.codes[i], tc.names[i])
				}
			}
			for _, value := range []string{"hypertension", "P-10042", "19840307"} {
				if bytes.Contains(body, []byte(value)) {
					t.Errorf("the refusal carries the value %q", value)
				}
			}
		})
	}
}

func TestAnUpdateMayLeaveLastNameOut(t *testing.T) {
	d, err := ContactsUpdateDefinition()
	if err != nil {
		t.Fatal(err)
	}
	if v := d.Check([]byte(`{"data":[{"Email":"a@example.org"}]}`)); len(v) != 0 {
		t.Errorf("update without Last_Name: %v", v)
	}
	if v := d.Check([]byte(`{"data":[{"Email":"a@example.org","clinical_note":"x"}]}`)); len(v) != 1 || v[0].Path != "data[0].clinical_note" {
		t.Errorf("update with an unknown field: %v", v)
	}
	upsert, _ := ContactsDefinition()
	if v := upsert.Check([]byte(`{"data":[{"Email":"a@example.org"}]}`)); len(v) != 1 {
		t.Errorf("the upsert definition lost Last_Name: %v", v)
	}
}
