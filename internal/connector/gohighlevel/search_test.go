package gohighlevel

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/record"
	"github.com/tenantwire/tenantwire/internal/record/recordtest"
)

func mustDefinition(t *testing.T, load func() (*contract.Definition, error)) *contract.Definition {
	t.Helper()
	d, err := load()
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != APIVersion {
		t.Fatalf("%s is for %s, the codec follows %s", d.Entity, d.Version, APIVersion)
	}
	return d
}

func TestEveryPropertyTheCodecWritesOrReadsIsDefined(t *testing.T) {
	for name, tc := range map[string]struct {
		load func() (*contract.Definition, error)
		v    any
	}{
		"update": {UpdateDefinition, Update{}},
		"search": {SearchDefinition, Search{}},
		"listed": {ListedDefinition, Listed{}},
	} {
		if v := mustDefinition(t, tc.load).CheckGoType(tc.v); len(v) != 0 {
			t.Errorf("%s: properties the definition does not have: %v", name, v)
		}
	}
}

// TestUpdateBodiesConformAndCarryOnlyAuthorizedFields: under every authorization, an update is
// the published UpdateContactDto (no locationId, no gender) holding the authorized fields it can
// hold and nothing else, never the source's patient ID.
func TestUpdateBodiesConformAndCarryOnlyAuthorizedFields(t *testing.T) {
	d := mustDefinition(t, UpdateDefinition)
	for name, fields := range recordtest.FieldSets() {
		t.Run(name, func(t *testing.T) {
			body, err := json.Marshal(NewUpdate(record.Authorize(recordtest.Planted(), fields)))
			if err != nil {
				t.Fatal(err)
			}
			if v := d.Check(body); len(v) != 0 {
				t.Errorf("body: %v", v)
			}
			recordtest.AssertOnly(t, body, fields.Intersect(UpdateHolds))
		})
	}
}

func TestChangesSearchBody(t *testing.T) {
	d := mustDefinition(t, SearchDefinition)
	since := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.FixedZone("x", 3600))
	for name, tc := range map[string]struct {
		since time.Time
		want  string
	}{
		"first scan": {time.Time{}, `{"locationId":"loc","page":1,"pageLimit":500,"sort":[{"field":"dateUpdated","direction":"asc"}]}`},
		"since": {since, `{"locationId":"loc","page":1,"pageLimit":500,"filters":[{"field":"dateUpdated","operator":"range",` +
			`"value":{"gte":"2026-01-02T02:04:05.006Z"}}],"sort":[{"field":"dateUpdated","direction":"asc"}]}`},
	} {
		body, _ := json.Marshal(NewChangesSearch("loc", tc.since, 1, MaxPageLimit))
		if string(body) != tc.want {
			t.Errorf("%s: body = %s\nwant %s", name, body, tc.want)
		}
		if v := d.Check(body); len(v) != 0 {
			t.Errorf("%s: %v", name, v)
		}
	}
}

func TestDecodeKeepsOnlyMappedFields(t *testing.T) {
	raw := `{"id":"ocQHyuzHvysMo5N5VsXc","locationId":"ve9EPM428h8vShlRW1KT","firstName":"Ignatia","lastName":"Quillfeather",` +
		`"name":"Ignatia Quillfeather","email":"ignatia.q@example.org","phone":"+1 555 0199","dateOfBirth":"1961-11-23T00:00:00.000Z",` +
		`"address1":"77 Larkspur Row","city":"Wexford Falls","state":"Nevada","postalCode":"89011","country":"US",` +
		`"dateAdded":"2026-01-01T00:00:00.000Z","dateUpdated":"2026-01-02T10:00:00.250Z","tags":["diabetic"],"ssn":"000-00-0000",` +
		`"customFields":[{"id":"cf","value":"hypertension"}]}`
	p, err := Decode([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := record.Patient{
		Source:      record.Source{System: System, ID: "ocQHyuzHvysMo5N5VsXc"},
		UpdatedAt:   time.Date(2026, 1, 2, 10, 0, 0, 250_000_000, time.UTC),
		Name:        record.Name{Given: "Ignatia", Family: "Quillfeather", Display: "Ignatia Quillfeather"},
		Email:       "ignatia.q@example.org",
		Phone:       "+1 555 0199",
		DateOfBirth: record.Date{Year: 1961, Month: time.November, Day: 23},
		Address:     record.Address{Line1: "77 Larkspur Row", City: "Wexford Falls", Region: "Nevada", PostalCode: "89011", Country: "US"},
	}
	if p != want {
		t.Fatalf("patient = %+v\nwant      %+v", p, want)
	}
	if v := mustDefinition(t, ListedDefinition).Check([]byte(raw)); len(v) != 0 {
		t.Errorf("the example breaks the contact definition: %v", v)
	}
}

func TestDecodeRefusesWithoutValues(t *testing.T) {
	for name, tc := range map[string]struct{ raw, want string }{
		"no id":             {`{"email":"ignatia.q@example.org"}`, "has no id"},
		"bad date of birth": {`{"id":"c1","dateOfBirth":"23/11/1961"}`, "dateOfBirth is not a YYYY-MM-DD date"},
		"bad time":          {`{"id":"c1","dateUpdated":"yesterday"}`, "dateUpdated is not an ISO 8601 date-time"},
		"wrong type":        {`{"id":"c1","phone":5550199}`, "phone is a JSON number, not a string"},
	} {
		_, err := Decode([]byte(tc.raw))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
			continue
		}
		for _, value := range []string{"ignatia.q@example.org", "23/11/1961", "yesterday", "5550199", "c1"} {
			if strings.Contains(err.Error(), value) {
				t.Errorf("%s: the error carries the value %q", name, value)
			}
		}
	}
}

func TestRefusedPropertyNamesOnlyDefinedProperties(t *testing.T) {
	for answer, want := range map[string]string{
		`{"statusCode":422,"message":["property clinical_note should not exist"]}`:            "clinical_note",
		`{"statusCode":422,"message":["email must be an email"]}`:                             "email",
		`{"statusCode":422,"message":["ignatia.q@example.org is taken","phone: wrong type"]}`: "phone",
		`{"statusCode":422,"message":["property gender should not exist"]}`:                   "gender",
		`{"statusCode":400,"message":"Bad Request"}`:                                          "",
		`not json`: "",
	} {
		if got := RefusedProperty([]byte(answer)); got != want {
			t.Errorf("RefusedProperty(%s) = %q, want %q", answer, got, want)
		}
	}
}
