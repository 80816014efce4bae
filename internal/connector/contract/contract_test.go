package contract

import (
	"slices"
	"testing"
)

const exampleXSD = `<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
	<xs:complexType name="Base">
		<xs:sequence>
			<xs:element name="Id" type="id" minOccurs="0"/>
		</xs:sequence>
		<xs:attribute name="sparse" type="xs:boolean" use="optional"/>
	</xs:complexType>
	<xs:complexType name="Person">
		<xs:complexContent>
			<xs:extension base="Base">
				<xs:sequence>
					<xs:element name="Given" type="xs:string" minOccurs="0">
						<xs:annotation><xs:documentation>
							Product: QBW
							Description: Given name.[br /]Max. length: 41 characters.[br /]At least one of the name elements is required: Given.
							Product: QBO
							Description: Given name.[br /]Max. length: 5 characters.[br /]At least one of the name elements is required: Given, or Family.
						</xs:documentation></xs:annotation>
					</xs:element>
					<xs:element name="Family" type="xs:string" minOccurs="0"/>
					<xs:element name="Phone" type="Phone" minOccurs="0"/>
					<xs:element name="Tags" type="xs:string" maxOccurs="unbounded"/>
				</xs:sequence>
			</xs:extension>
		</xs:complexContent>
	</xs:complexType>
	<xs:complexType name="Phone">
		<xs:sequence>
			<xs:element name="Number" type="xs:string"/>
		</xs:sequence>
		<xs:attribute name="code" type="xs:string" use="required"/>
	</xs:complexType>
</xs:schema>`

func TestParseXSD(t *testing.T) {
	d, err := ParseXSD([]byte(exampleXSD), "v", "Person", "1")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		typ       Type
		maxLength int
	}{
		"Id":           {typ: String},
		"sparse":       {typ: Boolean},
		"Given":        {typ: String, maxLength: 5}, // the QBO line, not the QBW one
		"Family":       {typ: String},
		"Phone":        {typ: Object},
		"Phone.Number": {typ: String},
		"Phone.code":   {typ: String},
		"Tags":         {typ: Array},
	}
	for path, want := range tests {
		s := d.Lookup(path)
		if s == nil || s.Type != want.typ || s.MaxLength != want.maxLength {
			t.Errorf("%s = %+v, want type %s maxLength %d", path, s, want.typ, want.maxLength)
		}
	}
	if d.Lookup("Nope") != nil || d.Lookup("Phone.Nope") != nil {
		t.Error("Lookup found a property that is not defined")
	}
	if !slices.EqualFunc(d.Body.AnyOf, [][]string{{"Given", "Family"}}, slices.Equal) {
		t.Errorf("AnyOf = %v", d.Body.AnyOf)
	}
	if !slices.Equal(d.Lookup("Phone").Required, []string{"code"}) {
		t.Errorf("Phone.Required = %v", d.Lookup("Phone").Required)
	}
}

func TestParseXSDRefusesAnUndefinedType(t *testing.T) {
	if _, err := ParseXSD([]byte(exampleXSD), "v", "Nobody", "1"); err == nil {
		t.Fatal("loaded a type the excerpt does not define")
	}
}

const exampleJSON = `{
  "vendor": "v", "entity": "Upsert", "version": "1",
  "body": {"type": "object", "required": ["loc"], "anyOf": [["email", "phone"]],
    "properties": {
      "loc": {"type": "string"},
      "email": {"type": "string", "maxLength": 10},
      "phone": {"type": "string"},
      "tags": {"type": "array", "items": {"type": "string"}},
      "opaque": {"type": "object"}
    }}
}`

func TestCheck(t *testing.T) {
	d, err := ParseJSON([]byte(exampleJSON))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		body string
		want []string
	}{
		"conforms":         {body: `{"loc":"L","email":"a@b.c","tags":["x"],"opaque":{"any":1}}`},
		"unknown property": {body: `{"loc":"L","phone":"1","id":"P-1"}`, want: []string{"id: unknown property"}},
		"wrong type":       {body: `{"loc":"L","phone":1}`, want: []string{"phone: wrong type"}},
		"wrong item type":  {body: `{"loc":"L","phone":"1","tags":[1]}`, want: []string{"tags[0]: wrong type"}},
		"too long":         {body: `{"loc":"L","email":"0123456789@x"}`, want: []string{"email: too long"}},
		"missing required": {body: `{"phone":"1"}`, want: []string{"loc: missing required property"}},
		"null is missing":  {body: `{"loc":null,"phone":"1"}`, want: []string{"loc: missing required property"}},
		"empty is missing": {body: `{"loc":"","email":"","phone":""}`, want: []string{"(body): missing one of email, phone", "loc: missing required property"}},
		"missing one of":   {body: `{"loc":"L"}`, want: []string{"(body): missing one of email, phone"}},
		"not an object":    {body: `[]`, want: []string{"(body): wrong type"}},
		"not json":         {body: `{`, want: []string{"(body): wrong type"}},
		"several, by path": {body: `{"x":1,"loc":"L","email":true}`, want: []string{"email: wrong type", "x: unknown property"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, v := range d.Check([]byte(tc.body)) {
				got = append(got, v.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("violations = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseJSONRefusesUnknownKeys(t *testing.T) {
	if _, err := ParseJSON([]byte(`{"vendor":"v","body":{"type":"object","propertys":{}}}`)); err == nil {
		t.Fatal("a misspelt key in a definition was accepted")
	}
}

func TestCheckGoType(t *testing.T) {
	d, err := ParseJSON([]byte(exampleJSON))
	if err != nil {
		t.Fatal(err)
	}
	type conforming struct {
		Loc    string   `json:"loc"`
		Email  string   `json:"email,omitempty"`
		Tags   []string `json:"tags,omitempty"`
		hidden int
	}
	// An unexported field is never encoded, so it is no property of the body.
	if v := d.CheckGoType(conforming{hidden: 1}); len(v) != 0 {
		t.Errorf("conforming type: %v", v)
	}
	type drifting struct {
		Loc   string `json:"loc"`
		Phone bool   `json:"phone"`
		ID    string `json:"id"`
		Tags  []int  `json:"tags"`
	}
	var got []string
	for _, v := range d.CheckGoType(&drifting{}) {
		got = append(got, v.String())
	}
	want := []string{"phone: wrong type", "id: unknown property", "tags[]: wrong type"}
	if !slices.Equal(got, want) {
		t.Fatalf("violations = %q, want %q", got, want)
	}
}
