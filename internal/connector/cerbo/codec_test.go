package cerbo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/record"
	"github.com/tenantwire/tenantwire/internal/record/recordtest"
)

func model(t *testing.T) *contract.Definition {
	t.Helper()
	d, err := PatientModel()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// patchModel is the model as it applies to a PATCH, which names only what it changes.
func patchModel(t *testing.T) *contract.Definition {
	t.Helper()
	d := model(t)
	body := *d.Body
	body.Required = nil
	d.Body = &body
	return d
}

// plantedCerboPatient is a Cerbo answer with properties outside the model: a clinical note, a
// questionnaire answer and insurance, each with a distinctive value.
const plantedCerboPatient = `{
	"id": 48213, "updated_at": "2026-11-25T08:00:00Z",
	"first_name": "Ignatia", "last_name": "Quillfeather", "dob": "1961-11-23", "sex": "F",
	"email1": "ignatia.q@example.org", "phone_home": "+1 555 0100", "phone_mobile": "+1 555 0199",
	"address1": "77 Larkspur Row", "city": "Wexford Falls", "state": "Nevada", "zip": "89011",
	"clinical_notes": "CLINICAL-NOTE-MARKER suspected thyroid nodule",
	"questionnaires": [{"question": "Do you smoke?", "answer": "QUESTIONNAIRE-ANSWER-MARKER"}],
	"insurance": {"member_id": "INSURANCE-MARKER"}
}`

func TestTheCodecEmitsAndReadsOnlyPropertiesOfTheModel(t *testing.T) {
	d := model(t)
	if v := d.CheckGoType(Body{}); len(v) != 0 {
		t.Fatalf("the codec can emit properties the model does not have: %v", v)
	}
	for _, property := range []string{"id", "updated_at"} {
		if d.Lookup(property) == nil {
			t.Errorf("the codec reads %s, which the model does not have", property)
		}
	}
}

func TestDecodeKeepsOnlyCanonicalFields(t *testing.T) {
	var p Patient
	if err := json.Unmarshal([]byte(plantedCerboPatient), &p); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(p)
	if err != nil {
		t.Fatal(err)
	}
	want := record.Patient{
		Source:      record.Source{System: "cerbo", ID: "48213"},
		UpdatedAt:   time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC),
		Name:        record.Name{Given: "Ignatia", Family: "Quillfeather"},
		Email:       "ignatia.q@example.org",
		Phone:       "+1 555 0199",
		DateOfBirth: record.Date{Year: 1961, Month: time.November, Day: 23},
		Sex:         record.SexFemale,
		Address:     record.Address{Line1: "77 Larkspur Row", City: "Wexford Falls", Region: "Nevada", PostalCode: "89011"},
	}
	if got != want {
		t.Fatalf("Decode = %+v\nwant     %+v", got, want)
	}
	// Nothing outside the model is held anywhere, in the decoded object or the canonical record.
	for _, v := range []any{p, got} {
		dump := fmt.Sprintf("%#v", v)
		for _, marker := range []string{"CLINICAL-NOTE-MARKER", "QUESTIONNAIRE-ANSWER-MARKER", "INSURANCE-MARKER"} {
			if bytes.Contains([]byte(dump), []byte(marker)) {
				t.Errorf("%T holds %s", v, marker)
			}
		}
	}
}

func TestDecodeValues(t *testing.T) {
	tests := map[string]struct {
		json string
		want func(record.Patient) bool
	}{
		"string id":                   {`{"id":"7"}`, func(p record.Patient) bool { return p.Source.ID == "7" }},
		"home phone without a mobile": {`{"id":1,"phone_home":"+1 555 0100"}`, func(p record.Patient) bool { return p.Phone == "+1 555 0100" }},
		"male":                        {`{"id":1,"sex":"M"}`, func(p record.Patient) bool { return p.Sex == record.SexMale }},
		"other":                       {`{"id":1,"sex":"O"}`, func(p record.Patient) bool { return p.Sex == record.SexOther }},
		"unknown":                     {`{"id":1,"sex":"U"}`, func(p record.Patient) bool { return p.Sex == record.SexUnknown }},
		"a sex outside the codes":     {`{"id":1,"sex":"X"}`, func(p record.Patient) bool { return p.Sex == "" }},
		"a dob that is not a date":    {`{"id":1,"dob":"11/23/1961"}`, func(p record.Patient) bool { return p.DateOfBirth.IsZero() }},
		"fractional updated_at":       {`{"id":1,"updated_at":"2026-01-02T03:04:05.5+01:00"}`, func(p record.Patient) bool { return p.UpdatedAt.Equal(time.Date(2026, 1, 2, 2, 4, 5, 5e8, time.UTC)) }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var p Patient
			if err := json.Unmarshal([]byte(tc.json), &p); err != nil {
				t.Fatal(err)
			}
			got, err := Decode(p)
			if err != nil || !tc.want(got) {
				t.Fatalf("Decode = %+v, %v", got, err)
			}
		})
	}
	if _, err := Decode(Patient{}); !errors.Is(err, ErrNoID) {
		t.Fatalf("Decode without an id = %v, want ErrNoID", err)
	}
}

// TestBodiesConformAndCarryOnlyAuthorizedFields checks, under every authorization, that the encoded
// bytes conform to the model and hold the authorized fields and nothing else, never the source's ID.
func TestBodiesConformAndCarryOnlyAuthorizedFields(t *testing.T) {
	// Sex is a one-letter code here, not the marker recordtest looks for: checked apart.
	withoutSex := record.NewSet(record.FieldName, record.FieldEmail, record.FieldPhone, record.FieldDateOfBirth, record.FieldAddress)
	recordtest.EachAuthorization(t, func(t *testing.T, fields record.Set, p record.Patient) {
		want := fields.Intersect(Holds)
		patch := recordtest.MustJSON(t, Patch(p))
		if v := patchModel(t).Check(patch); len(v) != 0 {
			t.Errorf("patch body: %v", v)
		}
		bodies := [][]byte{patch}
		created, err := NewPatient(p)
		switch {
		case !fields.Has(record.FieldName):
			if err == nil {
				t.Fatal("created a patient without a name")
			}
		case err != nil:
			t.Fatal(err)
		default:
			body := recordtest.MustJSON(t, created)
			if v := model(t).Check(body); len(v) != 0 {
				t.Errorf("create body: %v", v)
			}
			bodies = append(bodies, body)
		}
		for _, body := range bodies {
			recordtest.AssertOnly(t, body, want.Intersect(withoutSex))
			if hasSex := bytes.Contains(body, []byte(`"sex":"F"`)); hasSex != want.Has(record.FieldSex) {
				t.Errorf("sex in the body: %v, authorized: %v", hasSex, want.Has(record.FieldSex))
			}
		}
	})
}

func TestRoundTrip(t *testing.T) {
	in := recordtest.Planted()
	in.Name.Display = "" // a Cerbo patient has no display name
	b, err := NewPatient(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Decode(Patient{ID: "1", Body: b})
	if err != nil {
		t.Fatal(err)
	}
	in.Source, in.UpdatedAt = out.Source, out.UpdatedAt
	if out != in {
		t.Fatalf("round trip = %+v\nwant         %+v", out, in)
	}
}

func TestEncodingErrorsNameThePropertyNotTheValue(t *testing.T) {
	for property, p := range map[string]record.Patient{
		"first_name": {Name: record.Name{Family: "Quillfeather"}},
		"last_name":  {Name: record.Name{Given: "Ignatia"}},
	} {
		_, err := NewPatient(p)
		var e *contract.EncodeError
		if !errors.As(err, &e) || e.Property != property {
			t.Fatalf("err = %v, want an EncodeError on %s", err, property)
		}
		if bytes.Contains([]byte(err.Error()), []byte("Ignatia")) || bytes.Contains([]byte(err.Error()), []byte("Quillfeather")) {
			t.Fatalf("the error %q carries a value", err)
		}
	}
}

func TestNeedsAndHoldsFitTheDefaults(t *testing.T) {
	if missing := record.DefaultMinimum().Missing(Needs); len(missing) != 0 {
		t.Errorf("the default field set lacks %v, which a Cerbo patient needs", missing)
	}
	if missing := Holds.Missing(Needs); len(missing) != 0 {
		t.Error("the codec needs a field it cannot hold")
	}
}
