package fakesystem

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// CerboPatientProperties are the properties of a Cerbo patient object, with their JSON types, as
// this project models Cerbo's patient until Cerbo's own OpenAPI file can be kept (see
// internal/connector/cerbo/testdata/SOURCE.md): the demographics a sync may move, and the
// clinical properties it must never move (CerboClinicalProperties).
var CerboPatientProperties = map[string]string{
	"id":           "integer",
	"updated_at":   "string", // RFC 3339
	"first_name":   "string",
	"middle_name":  "string",
	"last_name":    "string",
	"dob":          "string", // YYYY-MM-DD
	"sex":          "string", // F, M, U or O
	"email1":       "string",
	"phone_mobile": "string",
	"phone_home":   "string",
	"address1":     "string",
	"address2":     "string",
	"city":         "string",
	"state":        "string",
	"zip":          "string",
	"country":      "string",

	"clinical_notes":      "string",
	"questionnaire":       "object",
	"insurance_member_id": "string",
}

// CerboClinicalProperties are the properties of CerboPatientProperties that are clinical or
// insurance data: no field of the sync's vocabulary maps to them, and no destination body may
// ever carry their values.
var CerboClinicalProperties = []string{"clinical_notes", "questionnaire", "insurance_member_id"}

// cerboSexes are the values of "sex": female, male, unknown, other.
var cerboSexes = []string{"F", "M", "U", "O"}

func unknownCerboProperty(fields map[string]any) (string, bool) {
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		if _, ok := CerboPatientProperties[name]; !ok {
			return name, true
		}
	}
	return "", false
}

// DemoPatients are five made-up Cerbo patients for demonstrations: their names say they are not
// real, their addresses are example.com and example.org, their phone numbers are 555-0100 to 555-0199,
// reserved for fiction. Like a practice's patients, they carry clinical notes,
// questionnaire answers and insurance member IDs, which a sync must never move.
func DemoPatients() []map[string]any {
	return []map[string]any{
		{
			"id": 1001, "updated_at": "2026-01-01T09:00:00Z",
			"first_name": "Testy", "middle_name": "Q", "last_name": "McTestface", "dob": "1970-01-01", "sex": "F",
			"email1": "testy.mctestface@example.com", "phone_mobile": "+1 555 0101", "phone_home": "+1 555 0111",
			"address1": "1 Example Way", "address2": "Suite 100", "city": "Springfield", "state": "OR", "zip": "97401", "country": "US",
			"clinical_notes":      "Demo note: seasonal allergies, follow up in spring.",
			"questionnaire":       map[string]any{"smoker": "no", "pain_scale": 2},
			"insurance_member_id": "DEMO-INS-1001",
		},
		{
			"id": 1002, "updated_at": "2026-01-02T09:00:00Z",
			"first_name": "Fakey", "last_name": "Fakerson", "dob": "1980-02-02", "sex": "M",
			"email1": "fakey.fakerson@example.org", "phone_mobile": "+1 555 0102",
			"address1": "22 Sample Street", "city": "Riverton", "state": "WY", "zip": "82501", "country": "US",
			"clinical_notes":      "Demo note: blood pressure check, within range.",
			"questionnaire":       map[string]any{"smoker": "former", "pain_scale": 0},
			"insurance_member_id": "DEMO-INS-1002",
		},
		{
			"id": 1003, "updated_at": "2026-01-03T09:00:00Z",
			"first_name": "Placeholder", "last_name": "Person", "dob": "1990-03-03", "sex": "U",
			"email1": "placeholder.person@example.com", "phone_home": "+1 555 0103",
			"address1": "333 Nowhere Road", "city": "Fairview", "state": "TN", "zip": "37062", "country": "US",
			"clinical_notes":      "Demo note: annual physical, no concerns.",
			"questionnaire":       map[string]any{"smoker": "no", "pain_scale": 1},
			"insurance_member_id": "DEMO-INS-1003",
		},
		{
			"id": 1004, "updated_at": "2026-01-04T09:00:00Z",
			"first_name": "Demo", "middle_name": "D", "last_name": "Dummy", "dob": "2000-04-04", "sex": "O",
			"email1": "demo.dummy@example.org", "phone_mobile": "+1 555 0104",
			"address1": "4 Test Lane", "address2": "Apt 4", "city": "Madison", "state": "WI", "zip": "53703", "country": "US",
			"clinical_notes":      "Demo note: sprained ankle, healing.",
			"questionnaire":       map[string]any{"smoker": "no", "pain_scale": 4},
			"insurance_member_id": "DEMO-INS-1004",
		},
		{
			"id": 1005, "updated_at": "2026-01-05T09:00:00Z",
			"first_name": "Sample", "last_name": "Notreal", "dob": "2010-05-05", "sex": "F",
			"email1": "sample.notreal@example.com", "phone_mobile": "+1 555 0105",
			"address1": "55 Fictional Avenue", "city": "Georgetown", "state": "TX", "zip": "78626", "country": "US",
			"clinical_notes":      "Demo note: vaccination record updated.",
			"questionnaire":       map[string]any{"smoker": "no", "pain_scale": 0},
			"insurance_member_id": "DEMO-INS-1005",
		},
	}
}

// GeneratedPatients are n made-up Cerbo patients with IDs from firstID, updated a minute apart
// from since, for benchmarks that backfill a practice. Every one has a distinct name, email
// , email address and phone number (so no destination sees two of them as the same person) and carries
// clinical properties like DemoPatients.
func GeneratedPatients(n, firstID int, since time.Time) []map[string]any {
	given := []string{"Testy", "Fakey", "Sample", "Demo", "Placeholder", "Mocky", "Dummy", "Stubby"}
	family := []string{"McTestface", "Fakerson", "Notreal", "Dummy", "Person", "Example", "Madeup", "Fictional"}
	sexes := []string{"F", "M", "U", "O"}
	out := make([]map[string]any, 0, n)
	for i := range n {
		id := firstID + i
		domain := []string{"example.com", "example.org"}[i%2]
		// The number makes names and email addresses unique, and phone numbers too: 555-0100 to
		// 555-0199 is fictional in every area code, so the area code counts the hundreds.
		first, last := given[i%len(given)], fmt.Sprintf("%s%d", family[(i/len(given))%len(family)], i)
		out = append(out, map[string]any{
			"id": id, "updated_at": since.Add(time.Duration(i) * time.Minute).UTC().Format(time.RFC3339),
			"first_name": first, "last_name": last,
			"dob":          time.Date(1940+i%70, time.Month(1+i%12), 1+i%28, 0, 0, 0, 0, time.UTC).Format(time.DateOnly),
			"sex":          sexes[i%len(sexes)],
			"email1":       fmt.Sprintf("patient%d@%s", id, domain),
			"phone_mobile": fmt.Sprintf("+1 %03d 555 01%02d", 200+(i/100)%800, i%100),
			"address1":     fmt.Sprintf("%d Example Way", 1+i%999), "city": "Springfield", "state": "OR", "zip": "97401", "country": "US",
			"clinical_notes":      fmt.Sprintf("Generated note %d: not a real patient.", id),
			"questionnaire":       map[string]any{"smoker": "no", "pain_scale": i % 10},
			"insurance_member_id": fmt.Sprintf("GEN-INS-%d", id),
		})
	}
	return out
}
