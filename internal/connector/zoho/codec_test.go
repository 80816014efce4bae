package zoho

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/record"
	"github.com/tenantwire/tenantwire/internal/record/recordtest"
)

func definition(t *testing.T) *contract.Definition {
	t.Helper()
	d, err := ContactsDefinition()
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != APIVersion {
		t.Fatalf("the definition is for %s, the codec follows %s", d.Version, APIVersion)
	}
	return d
}

func updateDefinition(t *testing.T) *contract.Definition {
	t.Helper()
	d, err := ContactsUpdateDefinition()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEveryPropertyTheCodecCanEmitIsDefined(t *testing.T) {
	if v := definition(t).CheckGoType(Body{}); len(v) != 0 {
		t.Fatalf("the codec can emit properties the definition does not have: %v", v)
	}
}

// TestBodiesConformAndCarryOnlyAuthorizedFields checks, under every authorization, that the
// encoded bytes conform to the definition, always carry Last_Name on an upsert, and hold the
// authorized fields a Contact can hold and nothing else: no unauthorized date of birth, and never
// the source's patient ID (which the unchanged source object used to send as the Zoho id).
func TestBodiesConformAndCarryOnlyAuthorizedFields(t *testing.T) {
	for name, fields := range recordtest.FieldSets() {
		t.Run(name, func(t *testing.T) {
			p := record.Authorize(recordtest.Planted(), fields)
			want := fields.Intersect(Holds)

			update := mustJSON(t, NewUpdate(p))
			if v := updateDefinition(t).Check(update); len(v) != 0 {
				t.Errorf("update body: %v", v)
			}
			recordtest.AssertOnly(t, update, want)

			upsert, err := NewUpsert(p)
			if !fields.Has(record.FieldName) {
				var e *contract.EncodeError
				if !errors.As(err, &e) || e.Property != "Last_Name" {
					t.Fatalf("err = %v, want a refusal naming Last_Name", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body := mustJSON(t, upsert)
			if v := definition(t).Check(body); len(v) != 0 {
				t.Errorf("upsert body: %v", v)
			}
			recordtest.AssertOnly(t, body, want)
		})
	}
}

func TestUpsertBody(t *testing.T) {
	p := record.Authorize(recordtest.Planted(), record.NewSet(record.FieldName, record.FieldEmail, record.FieldDateOfBirth, record.FieldAddress))
	b, err := NewUpsert(p)
	if err != nil {
		t.Fatal(err)
	}
	got := string(mustJSON(t, b))
	want := `{"data":[{"First_Name":"Ignatia","Last_Name":"Quillfeather","Email":"ignatia.q@example.org",` +
		`"Date_of_Birth":"1961-11-23","Mailing_Street":"77 Larkspur Row, Flat 9","Mailing_City":"Wexford Falls",` +
		`"Mailing_State":"Nevada","Mailing_Zip":"89011","Mailing_Country":"United States"}],"duplicate_check_fields":["Email"]}`
	if got != want {
		t.Fatalf("body = %s\nwant   %s", got, want)
	}
}

func TestUpsertWithoutEmailLeavesTheDuplicateCheckToZoho(t *testing.T) {
	b, err := NewUpsert(record.Patient{Name: record.Name{Family: "Quillfeather"}, Phone: "+1 555 0199"})
	if err != nil {
		t.Fatal(err)
	}
	if b.DuplicateCheckFields != nil {
		t.Fatalf("duplicate_check_fields = %v; Email is absent, so it must be left out", b.DuplicateCheckFields)
	}
}

func TestNeedsAndHoldsFitTheDefaults(t *testing.T) {
	if missing := record.DefaultMinimum().Missing(Needs); len(missing) != 0 {
		t.Errorf("the default field set lacks %v, which a Contact needs", missing)
	}
	if missing := Holds.Missing(Needs); len(missing) != 0 {
		t.Errorf("the codec needs %v, which it cannot hold", missing)
	}
}

// TestUpdatesOfSeveralContactsNameOnlyZohoIDs: the multi-record update conforms, names each
// Contact by the Zoho ID it was given, and carries no other ID and no unauthorized field.
func TestUpdatesOfSeveralContactsNameOnlyZohoIDs(t *testing.T) {
	fields := record.DefaultMinimum()
	p := record.Authorize(recordtest.Planted(), fields)
	u, err := NewUpdates([]string{"4150868000000002175", "4150868000000002176"}, []record.Patient{p, p})
	if err != nil {
		t.Fatal(err)
	}
	body := mustJSON(t, u)
	if v := updateDefinition(t).Check(body); len(v) != 0 {
		t.Errorf("body: %v", v)
	}
	recordtest.AssertOnly(t, body, fields.Intersect(Holds))
	if u.Data[0].ID != "4150868000000002175" || u.Data[1].ID != "4150868000000002176" {
		t.Errorf("ids = %s, %s", u.Data[0].ID, u.Data[1].ID)
	}
	for name, ids := range map[string][]string{"missing id": {"1", ""}, "count mismatch": {"1"}} {
		var e *contract.EncodeError
		if _, err := NewUpdates(ids, []record.Patient{p, p}); !errors.As(err, &e) {
			t.Errorf("%s: err = %v, want a refusal", name, err)
		}
	}
}
