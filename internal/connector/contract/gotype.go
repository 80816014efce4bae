package contract

import (
	"reflect"
	"strings"
)

// CheckGoType checks the Go type a codec encodes a body from, property by property: every JSON
// property the type can emit must exist in the definition with the same JSON type. Unlike Check,
// which sees only the properties a given value sets, it covers properties left empty in a test's
// data.
func (d *Definition) CheckGoType(v any) []Violation {
	var out []Violation
	checkGoType(reflect.TypeOf(v), d.Body, "", &out)
	return out
}

func checkGoType(t reflect.Type, s *Schema, path string, out *[]Violation) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if goJSONType(t) != s.Type {
		*out = append(*out, Violation{Kind: WrongType, Path: pathOrRoot(path)})
		return
	}
	switch t.Kind() {
	case reflect.Slice:
		if s.Items != nil {
			checkGoType(t.Elem(), s.Items, path+"[]", out)
		}
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			ps, ok := s.Properties[name]
			if !ok {
				*out = append(*out, Violation{Kind: Unknown, Path: join(path, name)})
				continue
			}
			checkGoType(f.Type, ps, join(path, name), out)
		}
	}
}

func goJSONType(t reflect.Type) Type {
	switch t.Kind() {
	case reflect.String:
		return String
	case reflect.Bool:
		return Boolean
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64:
		return Number
	case reflect.Slice:
		return Array
	case reflect.Struct, reflect.Map:
		return Object
	}
	return ""
}
