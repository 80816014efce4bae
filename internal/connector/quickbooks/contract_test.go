package quickbooks

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

// TestRefusalOfBodiesTheDefinitionRejects plays the source-object-forwarding runtime against the
// contract: a raw source patient sent as a Customer is refused with QuickBooks' own fault shape,
// naming the offending elements and never their values.
func TestRefusalOfBodiesTheDefinitionRejects(t *testing.T) {
	d, err := CustomerDefinition()
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		body      string
		wantCodes []string
		wantElems []string
	}{
		"raw source object": {
			body:      `{"id":"P-10042","first_name":"Ada","dob":"1984-03-07","clinical_note":"hypertension"}`,
			wantCodes: []string{"6080", "2010", "2010", "2010", "2010"},
			wantElems: []string{"", "clinical_note", "dob", "first_name", "id"},
		},
		"no name element": {body: `{"DisplayName":"Ada Lovelace"}`, wantCodes: []string{"6080"}, wantElems: []string{""}},
		"name too long":   {body: `{"FamilyName":"Abcdefghijklmnop"}`, wantCodes: []string{"2010"}, wantElems: []string{"FamilyName"}},
		"email as string": {body: `{"GivenName":"Ada","PrimaryEmailAddr":"ada@example.org"}`, wantCodes: []string{"2010"}, wantElems: []string{"PrimaryEmailAddr"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			status, body := Refusal(d.Check([]byte(tc.body)))
			if status != http.StatusBadRequest {
				t.Fatalf("status %d", status)
			}
			var f Fault
			if err := json.Unmarshal(body, &f); err != nil {
				t.Fatal(err)
			}
			if f.Fault.Type != "ValidationFault" || len(f.Fault.Error) != len(tc.wantCodes) {
				t.Fatalf("fault = %s", body)
			}
			for i, e := range f.Fault.Error {
				if e.Code != tc.wantCodes[i] || e.Element != tc.wantElems[i] {
					t.Errorf("error %d = code %s element %q, want %s %q", i, e.Code, e.Element, tc.wantCodes[i], tc.wantElems[i])
				}
			}
			for _, value := range []string{"hypertension", "1984-03-07", "Abcdefghijklmnop", "ada@example.org"} {
				if bytes.Contains(body, []byte(value)) {
					t.Errorf("the refusal carries the value %q", value)
				}
			}
		})
	}
}

func TestConformingBodyHasNoViolations(t *testing.T) {
	d, err := CustomerDefinition()
	if err != nil {
		t.Fatal(err)
	}
	if v := d.Check([]byte(`{"GivenName":"Ada","FamilyName":"Lovelace","PrimaryEmailAddr":{"Address":"ada@example.org"}}`)); len(v) != 0 {
		t.Fatalf("violations: %v", v)
	}
}
