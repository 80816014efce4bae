package quickbooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/record"
	"github.com/tenantwire/tenantwire/internal/record/recordtest"
)

// customerDefinition is Intuit's Customer definition as kept under testdata.
func customerDefinition(t *testing.T) *contract.Definition {
	t.Helper()
	d, err := CustomerDefinition()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// updateDefinition is the Customer definition as it applies to a sparse update: the name rule is
// for the entity, not for each update, and the Id and SyncToken annotations say "Required for the
// update operation".
func updateDefinition(t *testing.T) *contract.Definition {
	t.Helper()
	d := customerDefinition(t)
	body := *d.Body
	body.AnyOf = nil
	body.Required = append([]string{"Id", "SyncToken"}, body.Required...)
	d.Body = &body
	return d
}

func TestDefinitionIsTheOneTheCodecFollows(t *testing.T) {
	d := customerDefinition(t)
	if got := d.Body.AnyOf; len(got) != 1 || strings.Join(got[0], ",") != strings.Join(nameElements, ",") {
		t.Errorf("the definition's name rule is %v; the codec follows %v", got, nameElements)
	}
	for property, n := range maxLength {
		s := d.Lookup(property)
		if s == nil {
			t.Errorf("%s: not in the definition", property)
			continue
		}
		if s.MaxLength != n {
			t.Errorf("%s: the codec allows %d characters, the definition %d", property, n, s.MaxLength)
		}
	}
}

func TestEveryPropertyTheCodecCanEmitIsDefined(t *testing.T) {
	if v := customerDefinition(t).CheckGoType(Customer{}); len(v) != 0 {
		t.Fatalf("the codec can emit properties the definition does not have: %v", v)
	}
}

func TestBodiesConformToTheDefinition(t *testing.T) {
	for name, fields := range recordtest.FieldSets() {
		t.Run(name, func(t *testing.T) {
			p := record.Authorize(recordtest.Planted(), fields)
			created, err := NewCustomer(p)
			switch {
			case !fields.Has(record.FieldName):
				if err == nil {
					t.Fatal("created a Customer without a name")
				}
			case err != nil:
				t.Fatal(err)
			default:
				if v := customerDefinition(t).Check(recordtest.MustJSON(t, created)); len(v) != 0 {
					t.Errorf("create body: %v", v)
				}
			}
			updated, err := SparseUpdate(p, "58", "3")
			if err != nil {
				t.Fatal(err)
			}
			if v := updateDefinition(t).Check(recordtest.MustJSON(t, updated)); len(v) != 0 {
				t.Errorf("update body: %v", v)
			}
		})
	}
}

// TestUnauthorizedFieldsNeverReachTheBody plants a marker in every field and checks the encoded
// bytes: a body holds the authorized fields a Customer can hold, and nothing else, not the date of
// birth even when it is authorized (a Customer has no such property), and never the source's ID.
func TestUnauthorizedFieldsNeverReachTheBody(t *testing.T) {
	for name, fields := range recordtest.FieldSets() {
		t.Run(name, func(t *testing.T) {
			p := record.Authorize(recordtest.Planted(), fields)
			want := fields.Intersect(Holds)
			updated, err := SparseUpdate(p, "58", "3")
			if err != nil {
				t.Fatal(err)
			}
			recordtest.AssertOnly(t, recordtest.MustJSON(t, updated), want)
			if created, err := NewCustomer(p); err == nil {
				recordtest.AssertOnly(t, recordtest.MustJSON(t, created), want)
			}
		})
	}
}

func TestSparseUpdateNamesOnlyWhatItOwns(t *testing.T) {
	p := record.Authorize(recordtest.Planted(), record.NewSet(record.FieldEmail))
	got := string(recordtest.MustJSON(t, mustUpdate(t, p)))
	want := `{"Id":"58","SyncToken":"3","sparse":true,"PrimaryEmailAddr":{"Address":"ignatia.q@example.org"}}`
	if got != want {
		t.Fatalf("body = %s\nwant   %s", got, want)
	}
}

func mustUpdate(t *testing.T, p record.Patient) Customer {
	t.Helper()
	c, err := SparseUpdate(p, "58", "3")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEncodingErrorsNameThePropertyNotTheValue(t *testing.T) {
	long := strings.Repeat("x", 16)
	tests := map[string]struct {
		patient  record.Patient
		id, sync string
		property string
	}{
		"family name too long": {patient: record.Patient{Name: record.Name{Given: "A", Family: long}}, id: "1", sync: "0", property: "FamilyName"},
		"email without @":      {patient: record.Patient{Name: record.Name{Given: "A"}, Email: "not-an-address"}, id: "1", sync: "0", property: "PrimaryEmailAddr.Address"},
		"colon in name":        {patient: record.Patient{Name: record.Name{Display: "Smith: John", Given: "J"}}, id: "1", sync: "0", property: "DisplayName"},
		"update without id":    {patient: record.Patient{}, sync: "0", property: "Id"},
		"update without token": {patient: record.Patient{}, id: "1", property: "SyncToken"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := SparseUpdate(tc.patient, tc.id, tc.sync)
			var e *contract.EncodeError
			if !errors.As(err, &e) || e.Property != tc.property {
				t.Fatalf("err = %v, want an Error on %s", err, tc.property)
			}
			for _, v := range []string{long, "not-an-address", "Smith"} {
				if strings.Contains(err.Error(), v) {
					t.Fatalf("the error %q carries a value", err)
				}
			}
		})
	}
}

func TestNeedsAndHoldsFitTheDefaults(t *testing.T) {
	if missing := record.DefaultMinimum().Missing(Needs); len(missing) != 0 {
		t.Errorf("the default field set lacks %v, which a Customer needs", missing)
	}
	if missing := Holds.Missing(Needs); len(missing) != 0 {
		t.Error("the codec needs a field it cannot hold")
	}
}

// TestDecodeReadsOnlyTheDefinedProperties decodes an answer as the Accounting API gives it, with
// properties the codec does not own, and checks the canonical record holds the owned ones only.
func TestDecodeReadsOnlyTheDefinedProperties(t *testing.T) {
	answer := `{"Id":"58","SyncToken":"3","GivenName":"Ignatia","FamilyName":"Quillfeather","DisplayName":"Ignatia Quillfeather",
		"PrimaryEmailAddr":{"Address":"ignatia.q@example.org"},"PrimaryPhone":{"FreeFormNumber":"+1 555 0199"},
		"BillAddr":{"Id":"91","Line1":"77 Larkspur Row","City":"Wexford Falls","CountrySubDivisionCode":"Nevada","PostalCode":"89011"},
		"Notes":"NOTES-MARKER","Balance":120.5,"MetaData":{"LastUpdatedTime":"2026-11-25T08:00:00-08:00"}}`
	var c Customer
	if err := json.Unmarshal([]byte(answer), &c); err != nil {
		t.Fatal(err)
	}
	got := Decode(c)
	want := record.Patient{
		Source: record.Source{System: "quickbooks", ID: "58"},
		Name:   record.Name{Given: "Ignatia", Family: "Quillfeather", Display: "Ignatia Quillfeather"},
		Email:  "ignatia.q@example.org", Phone: "+1 555 0199",
		Address: record.Address{Line1: "77 Larkspur Row", City: "Wexford Falls", Region: "Nevada", PostalCode: "89011"},
	}
	if got != want {
		t.Fatalf("Decode = %+v\nwant     %+v", got, want)
	}
	if strings.Contains(fmt.Sprintf("%#v", c), "NOTES-MARKER") {
		t.Error("a property the codec does not own was kept")
	}
}

func TestDecodeReadsWhatTheEncoderWrites(t *testing.T) {
	in := record.Authorize(recordtest.Planted(), Holds)
	c, err := NewCustomer(in)
	if err != nil {
		t.Fatal(err)
	}
	out := Decode(c)
	in.Source, in.UpdatedAt = out.Source, out.UpdatedAt
	if out != in {
		t.Fatalf("Decode(NewCustomer(p)) = %+v\nwant                   %+v", out, in)
	}
}
