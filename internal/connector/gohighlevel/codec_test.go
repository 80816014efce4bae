package gohighlevel

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/record"
	"github.com/tenantwire/tenantwire/internal/record/recordtest"
)

const location = "ve9EPM428h8vShlRW1KT"

func definition(t *testing.T) *contract.Definition {
	t.Helper()
	d, err := ContactDefinition()
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != APIVersion {
		t.Fatalf("the definition is for %s, the codec follows %s", d.Version, APIVersion)
	}
	return d
}

func TestEveryPropertyTheCodecCanEmitIsDefined(t *testing.T) {
	if v := definition(t).CheckGoType(Contact{}); len(v) != 0 {
		t.Fatalf("the codec can emit properties the definition does not have: %v", v)
	}
}

// TestBodiesConformAndCarryOnlyAuthorizedFields checks, under every authorization, that the
// encoded bytes conform to the definition (locationId and one of email or phone always present)
// and hold the authorized fields and nothing else: no unauthorized date of birth or sex, and
// never the source's patient ID.
func TestBodiesConformAndCarryOnlyAuthorizedFields(t *testing.T) {
	for name, fields := range recordtest.FieldSets() {
		t.Run(name, func(t *testing.T) {
			c, err := NewUpsert(record.Authorize(recordtest.Planted(), fields), location)
			if len(fields.Intersect(NeedsOneOf).Fields()) == 0 {
				var e *contract.EncodeError
				if !errors.As(err, &e) || e.Property != "email|phone" {
					t.Fatalf("err = %v, want a refusal naming email|phone", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			if v := definition(t).Check(body); len(v) != 0 {
				t.Errorf("body: %v", v)
			}
			recordtest.AssertOnly(t, body, fields.Intersect(Holds))
		})
	}
}

func TestUpsertBody(t *testing.T) {
	c, err := NewUpsert(record.Authorize(recordtest.Planted(), record.DefaultMinimum()), location)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(c)
	want := `{"locationId":"ve9EPM428h8vShlRW1KT","firstName":"Ignatia","lastName":"Quillfeather",` +
		`"name":"Ignatia Quillfeather","email":"ignatia.q@example.org","phone":"+1 555 0199"}`
	if string(got) != want {
		t.Fatalf("body = %s\nwant   %s", got, want)
	}
}

func TestUpsertNeedsALocation(t *testing.T) {
	_, err := NewUpsert(recordtest.Planted(), "")
	var e *contract.EncodeError
	if !errors.As(err, &e) || e.Property != "locationId" {
		t.Fatalf("err = %v, want a refusal naming locationId", err)
	}
}

func TestGenderIsSentOnlyForPublishedValues(t *testing.T) {
	for sex, want := range map[record.Sex]string{record.SexFemale: "female", record.SexMale: "male", record.SexOther: "", record.SexUnknown: ""} {
		c, err := NewUpsert(record.Patient{Email: "a@b.c", Sex: sex}, location)
		if err != nil || c.Gender != want {
			t.Errorf("%s: gender %q, %v; want %q", sex, c.Gender, err, want)
		}
	}
}

func TestDefaultMinimumCanUpsert(t *testing.T) {
	if len(record.DefaultMinimum().Intersect(NeedsOneOf).Fields()) == 0 {
		t.Fatal("the default field set has neither email nor phone, so no upsert could find a contact")
	}
}
