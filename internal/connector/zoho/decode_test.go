package zoho

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/record"
	"github.com/tenantwire/tenantwire/internal/record/recordtest"
)

// listedContact is the definition of one Contact of a list answer.
func listedContact(t *testing.T) *contract.Definition {
	t.Helper()
	d, err := ContactsListDefinition()
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != APIVersion {
		t.Fatalf("the list definition is for %s, the codec follows %s", d.Version, APIVersion)
	}
	return &contract.Definition{Vendor: d.Vendor, Entity: "Contact", Version: d.Version, Body: d.Body.Properties["data"].Items}
}

func TestEverythingDecodeReadsIsDefined(t *testing.T) {
	d := listedContact(t)
	for name, v := range map[string]any{"Contact": Contact{}, "Listed": Listed{}} {
		if violations := d.CheckGoType(v); len(violations) != 0 {
			t.Errorf("%s reads properties a listed Contact does not have: %v", name, violations)
		}
	}
	for _, f := range ListFields() {
		if d.Lookup(f) == nil {
			t.Errorf("the fields parameter asks for %s, which the definition does not have", f)
		}
	}
}

func TestListFieldsAreWhatTheCodecMaps(t *testing.T) {
	got := strings.Join(ListFields(), ",")
	want := "Modified_Time,First_Name,Last_Name,Email,Phone,Date_of_Birth,Mailing_Street,Mailing_City,Mailing_State,Mailing_Zip,Mailing_Country"
	if got != want {
		t.Fatalf("fields = %s\nwant     %s", got, want)
	}
}

// TestDecodeKeepsOnlyMappedFields decodes a Contact that carries fields no canonical field maps
// (a description with a clinical remark, a secondary email): they have nowhere to go.
func TestDecodeKeepsOnlyMappedFields(t *testing.T) {
	raw := `{"id":"4150868000000002175","Modified_Time":"2026-01-03T10:00:00+05:30","First_Name":"Ignatia",` +
		`"Last_Name":"Quillfeather","Email":"ignatia.q@example.org","Phone":"+1 555 0199","Date_of_Birth":"1961-11-23",` +
		`"Mailing_Street":"77 Larkspur Row","Mailing_City":"Wexford Falls","Mailing_State":"Nevada","Mailing_Zip":"89011",` +
		`"Mailing_Country":"United States","Mobile":null,"Description":"hypertension follow-up","Secondary_Email":"other@example.org"}`
	p, err := Decode([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := record.Patient{
		Source:      record.Source{System: System, ID: "4150868000000002175"},
		UpdatedAt:   time.Date(2026, 1, 3, 4, 30, 0, 0, time.UTC),
		Name:        record.Name{Given: "Ignatia", Family: "Quillfeather"},
		Email:       "ignatia.q@example.org",
		Phone:       "+1 555 0199",
		DateOfBirth: record.Date{Year: 1961, Month: time.November, Day: 23},
		Address:     record.Address{Line1: "77 Larkspur Row", City: "Wexford Falls", Region: "Nevada", PostalCode: "89011", Country: "United States"},
	}
	if p != want {
		t.Fatalf("patient = %+v\nwant      %+v", p, want)
	}
}

func TestDecodeRefusesWithoutValues(t *testing.T) {
	tests := map[string]struct{ raw, want string }{
		"no id":             {`{"Last_Name":"Quillfeather"}`, "has no id"},
		"bad date of birth": {`{"id":"1","Date_of_Birth":"23/11/1961"}`, "Date_of_Birth is not a YYYY-MM-DD date"},
		"bad time":          {`{"id":"1","Modified_Time":"yesterday"}`, "Modified_Time is not an ISO 8601 date-time"},
		"wrong type":        {`{"id":"1","Email":["ignatia.q@example.org"]}`, "Email is a JSON array, not a string"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Decode([]byte(tc.raw))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			for _, value := range []string{"23/11/1961", "yesterday", "ignatia.q@example.org", "Quillfeather"} {
				if strings.Contains(err.Error(), value) {
					t.Errorf("the error carries the value %q", value)
				}
			}
		})
	}
}

// TestEncodedContactDecodesToTheAuthorizedPatient closes the loop: what the codec writes for an
// authorized patient reads back as the same canonical fields.
func TestEncodedContactDecodesToTheAuthorizedPatient(t *testing.T) {
	p := record.Authorize(recordtest.Planted(), record.NewSet(record.FieldName, record.FieldEmail, record.FieldPhone, record.FieldDateOfBirth, record.FieldAddress))
	body, err := NewUpsert(p)
	if err != nil {
		t.Fatal(err)
	}
	listed, _ := json.Marshal(map[string]any{"id": "1", "First_Name": body.Data[0].FirstName, "Last_Name": body.Data[0].LastName,
		"Email": body.Data[0].Email, "Phone": body.Data[0].Phone, "Date_of_Birth": body.Data[0].DateOfBirth,
		"Mailing_Street": body.Data[0].MailingStreet, "Mailing_City": body.Data[0].MailingCity, "Mailing_State": body.Data[0].MailingState,
		"Mailing_Zip": body.Data[0].MailingZip, "Mailing_Country": body.Data[0].MailingCountry})
	got, err := Decode(listed)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name.Given != p.Name.Given || got.Name.Family != p.Name.Family || got.Email != p.Email || got.Phone != p.Phone ||
		got.DateOfBirth != p.DateOfBirth || got.Address.City != p.Address.City || got.Address.Street() != p.Address.Street() {
		t.Fatalf("decoded %+v, want the fields of %+v", got, p)
	}
}
