package record

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)

// full is a patient with every field set.
func full() Patient {
	return Patient{
		Source:      Source{System: "cerbo", ID: "P-10042"},
		UpdatedAt:   t0,
		Name:        Name{Given: "Ada", Family: "Lovelace", Display: "Ada Lovelace"},
		Email:       "ada@example.org",
		Phone:       "+1 555 0100",
		DateOfBirth: Date{Year: 1984, Month: time.March, Day: 7},
		Sex:         SexFemale,
		Address:     Address{Line1: "1 Analytical Way", City: "Springfield", Region: "IL", PostalCode: "62701", Country: "US"},
	}
}

// patientFieldOf maps each exported field of Patient to the canonical field that authorizes it;
// metadata maps to "". A field added to Patient without an entry here fails
// TestEveryPatientFieldIsClassified, so nothing reaches a destination without a class.
var patientFieldOf = map[string]Field{
	"Source":      "",
	"UpdatedAt":   "",
	"Name":        FieldName,
	"Email":       FieldEmail,
	"Phone":       FieldPhone,
	"DateOfBirth": FieldDateOfBirth,
	"Sex":         FieldSex,
	"Address":     FieldAddress,
}

func TestEveryPatientFieldIsClassified(t *testing.T) {
	typ := reflect.TypeFor[Patient]()
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		f, ok := patientFieldOf[name]
		if !ok {
			t.Errorf("Patient.%s has no canonical field: add it to the vocabulary and to patientFieldOf", name)
			continue
		}
		if _, known := Lookup(f); f != "" && !known {
			t.Errorf("Patient.%s maps to %q, which is not in the vocabulary", name, f)
		}
	}
	for _, spec := range vocabulary {
		if !slices.Contains(slices.Collect(maps.Values(patientFieldOf)), spec.Field) {
			t.Errorf("vocabulary field %q has no Patient field", spec.Field)
		}
	}
}

// TestAuthorizeKeepsExactlyTheAuthorizedFields checks, field by field through reflection, that
// Authorize keeps a Patient field if and only if its canonical field is in the set.
func TestAuthorizeKeepsExactlyTheAuthorizedFields(t *testing.T) {
	sets := map[string]Set{
		"none":            NewSet(),
		"default minimum": DefaultMinimum(),
		"name only":       NewSet(FieldName),
		"phi only":        NewSet(FieldDateOfBirth, FieldSex, FieldAddress),
		"everything":      NewSet(FieldName, FieldEmail, FieldPhone, FieldDateOfBirth, FieldSex, FieldAddress),
	}
	for name, set := range sets {
		t.Run(name, func(t *testing.T) {
			in := full()
			got := reflect.ValueOf(Authorize(in, set))
			want := reflect.ValueOf(in)
			for i := range got.NumField() {
				fieldName := got.Type().Field(i).Name
				keep := patientFieldOf[fieldName] == "" || set.Has(patientFieldOf[fieldName])
				kept := reflect.DeepEqual(got.Field(i).Interface(), want.Field(i).Interface())
				cleared := got.Field(i).IsZero()
				switch {
				case keep && !kept:
					t.Errorf("Patient.%s was authorized but not kept", fieldName)
				case !keep && !cleared:
					t.Errorf("Patient.%s was not authorized but kept", fieldName)
				}
			}
		})
	}
}

func TestAuthorizeDoesNotChangeItsInput(t *testing.T) {
	in := full()
	_ = Authorize(in, NewSet())
	if !reflect.DeepEqual(in, full()) {
		t.Fatal("Authorize changed the patient it was given")
	}
}

func TestParseSet(t *testing.T) {
	tests := map[string]struct {
		names   []string
		want    []Field
		wantErr string
	}{
		"empty":                  {names: nil, want: nil},
		"sorted into vocabulary": {names: []string{"address", "name"}, want: []Field{FieldName, FieldAddress}},
		"duplicates collapse":    {names: []string{"email", "email"}, want: []Field{FieldEmail}},
		"unknown names the field": {
			names:   []string{"name", "clinicalNotes"},
			wantErr: `unknown field "clinicalNotes"; known fields: name, email, phone, dateOfBirth, sex, address`,
		},
		"case matters": {names: []string{"DateOfBirth"}, wantErr: `unknown field "DateOfBirth"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseSet(tc.names)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Fields(), tc.want) {
				t.Fatalf("fields = %v, want %v", got.Fields(), tc.want)
			}
		})
	}
}

func TestSetClassesAndMissing(t *testing.T) {
	s := NewSet(FieldName, FieldDateOfBirth, FieldAddress)
	if got := s.Of(ClassPHI); !slices.Equal(got, []Field{FieldDateOfBirth, FieldAddress}) {
		t.Errorf("PHI = %v", got)
	}
	if got := s.Of(ClassIdentifying); !slices.Equal(got, []Field{FieldName}) {
		t.Errorf("identifying = %v", got)
	}
	if got := s.Missing(DefaultMinimum()); !slices.Equal(got, []Field{FieldEmail, FieldPhone}) {
		t.Errorf("missing = %v", got)
	}
	if got := s.Intersect(DefaultMinimum()); got.String() != "name" {
		t.Errorf("intersect = %q", got)
	}
	if s.String() != "name,dateOfBirth,address" {
		t.Errorf("String() = %q", s.String())
	}
}

func TestDefaultMinimumHoldsNoPHI(t *testing.T) {
	if phi := DefaultMinimum().Of(ClassPHI); len(phi) != 0 {
		t.Fatalf("the default field set holds PHI-class fields %v; they need an explicit authorization", phi)
	}
}

func TestEveryFieldHasAClass(t *testing.T) {
	for _, spec := range Vocabulary() {
		if spec.Class != ClassIdentifying && spec.Class != ClassPHI {
			t.Errorf("field %q has no class", spec.Field)
		}
	}
	for _, f := range []Field{FieldDateOfBirth, FieldSex, FieldAddress} {
		if spec, _ := Lookup(f); spec.Class != ClassPHI {
			t.Errorf("field %q must be PHI-class", f)
		}
	}
}

func TestPresent(t *testing.T) {
	if got := full().Present(); got.String() != "name,email,phone,dateOfBirth,sex,address" {
		t.Errorf("full: %q", got)
	}
	if got := (Patient{Source: Source{System: "cerbo", ID: "1"}, Email: "a@b.c"}).Present(); got.String() != "email" {
		t.Errorf("email only: %q", got)
	}
}

func TestDate(t *testing.T) {
	d, err := ParseDate("1984-03-07")
	if err != nil || d != (Date{1984, time.March, 7}) || d.String() != "1984-03-07" {
		t.Fatalf("ParseDate = %v, %v", d, err)
	}
	for _, bad := range []string{"", "07/03/1984", "1984-13-01"} {
		if _, err := ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) accepted", bad)
		} else if strings.Contains(err.Error(), bad) && bad != "" {
			t.Errorf("ParseDate echoes its input in the error: %v", err)
		}
	}
	if (Date{}).String() != "" {
		t.Error("an unset date must print empty")
	}
}

func TestNameFullAndStreet(t *testing.T) {
	tests := map[string]struct{ got, want string }{
		"display wins":   {Name{Given: "A", Family: "B", Display: "Dr A B"}.Full(), "Dr A B"},
		"parts in order": {Name{Given: "A", Middle: "M", Family: "B"}.Full(), "A M B"},
		"missing parts":  {Name{Family: "B"}.Full(), "B"},
		"two lines":      {Address{Line1: "1 Main St", Line2: "Apt 2"}.Street(), "1 Main St, Apt 2"},
		"one line":       {Address{Line2: "Apt 2"}.Street(), "Apt 2"},
		"no lines":       {Address{City: "X"}.Street(), ""},
	}
	for name, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", name, tc.got, tc.want)
		}
	}
}
