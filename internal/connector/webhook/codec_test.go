package webhook

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/record"
	"github.com/tenantwire/tenantwire/internal/record/recordtest"
)

func delivery(t *testing.T, p record.Patient) []byte {
	t.Helper()
	return recordtest.MustJSON(t, Delivery{ID: "twh_1", UpdatedAt: p.UpdatedAt, Patient: Encode(p),
		IdempotencyKey: strings.Repeat("ab", 32), SentAt: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)})
}

func TestDeliveriesConformToTheSchemaAndCarryOnlyAuthorizedFields(t *testing.T) {
	recordtest.EachAuthorization(t, func(t *testing.T, fields record.Set, p record.Patient) {
		body := delivery(t, p)
		violations, err := CheckDelivery(body)
		if err != nil {
			t.Fatal(err)
		}
		if len(violations) != 0 {
			t.Errorf("delivery breaks the schema: %v", violations)
		}
		recordtest.AssertOnly(t, body, fields.Intersect(Holds))
	})
}

// TestTheSchemaRefusesWhatItShould makes sure CheckDelivery can fail: a test against a schema that
// accepts anything would prove nothing.
func TestTheSchemaRefusesWhatItShould(t *testing.T) {
	good := `{"id":"twh_1","updated_at":"2026-01-01T00:00:00Z","patient":{},"idempotency_key":"` + strings.Repeat("a", 64) + `","sent_at":"2026-01-01T00:00:00Z"}`
	tests := map[string]struct{ body, want string }{
		"a raw source object":    {strings.Replace(good, `"patient":{}`, `"patient":{"clinical_notes":"x"}`, 1), "(body).patient: unknown property clinical_notes"},
		"a source ID":            {strings.Replace(good, `"id":"twh_1"`, `"id":"twh_1","patient_id":"48213"`, 1), "(body): unknown property patient_id"},
		"a date in another form": {strings.Replace(good, `"patient":{}`, `"patient":{"dateOfBirth":"11/23/1961"}`, 1), "(body).patient.dateOfBirth: does not match"},
		"a sex outside the set":  {strings.Replace(good, `"patient":{}`, `"patient":{"sex":"F"}`, 1), "(body).patient.sex: not one of"},
		"no idempotency key":     {strings.Replace(good, `"idempotency_key"`, `"key"`, 1), "missing required property idempotency_key"},
		"a bad time":             {strings.Replace(good, `"sent_at":"2026-01-01T00:00:00Z"`, `"sent_at":"yesterday"`, 1), "(body).sent_at: not an RFC 3339"},
	}
	if v, err := CheckDelivery([]byte(good)); err != nil || len(v) != 0 {
		t.Fatalf("the minimal delivery: %v, %v", v, err)
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v, err := CheckDelivery([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(v, "\n"), tc.want) {
				t.Fatalf("violations %v, want one with %q", v, tc.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	in := recordtest.Planted()
	out, err := Decode(Encode(in))
	if err != nil {
		t.Fatal(err)
	}
	in.Source, in.UpdatedAt = record.Source{}, time.Time{}
	if out != in {
		t.Fatalf("round trip = %+v\nwant         %+v", out, in)
	}
}

func TestDecodeRefusalsNameThePropertyNotTheValue(t *testing.T) {
	for property, p := range map[string]Patient{
		"patient.dateOfBirth": {DateOfBirth: "11/23/1961"},
		"patient.sex":         {Sex: "F"},
	} {
		_, err := Decode(p)
		var e *contract.EncodeError
		if !errors.As(err, &e) || e.Property != property || strings.Contains(err.Error(), "1961") {
			t.Errorf("Decode(%s) = %v, want a refusal naming %s and no value", property, err, property)
		}
	}
}
