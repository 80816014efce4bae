// Package contract holds a vendor's published definition of a request body in one small form, and
// checks a body against it: which properties exist and of what JSON type, how long a string may
// be, which properties are required and which groups need at least one member.
//
// A definition is parsed from what is kept under a vendor package's testdata: an excerpt of the
// vendor's XSD (ParseXSD) or a table derived from the vendor's OpenAPI specification (ParseJSON). The
// codec tests check every body a codec emits with Check, and the fakes can refuse what the vendor
// would refuse from the same definition, so neither can drift from the vendor.
package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Type is the JSON type of a property.
type Type string

const (
	String  Type = "string"
	Boolean Type = "boolean"
	Number  Type = "number"
	Object  Type = "object"
	Array   Type = "array"
)

// Schema is the definition of one JSON value.
type Schema struct {
	Type Type `json:"type"`
	// MaxLength is the longest string, in characters, the vendor accepts; 0 when it publishes none.
	MaxLength int `json:"maxLength,omitempty"`
	// Properties are an object's properties. An object without properties is opaque: the vendor
	// publishes no shape for it, and its content is not checked.
	Properties map[string]*Schema `json:"properties,omitempty"`
	// Items is the schema of an array's elements.
	Items *Schema `json:"items,omitempty"`
	// Required are properties that must be present.
	Required []string `json:"required,omitempty"`
	// AnyOf are groups of properties of which at least one per group must be present.
	AnyOf [][]string `json:"anyOf,omitempty"`
}

// Definition is one request body a vendor defines.
type Definition struct {
	// Vendor and Entity name what is defined, for messages (quickbooks Customer).
	Vendor string `json:"vendor"`
	Entity string `json:"entity"`
	// Version is the vendor's API version the definition follows.
	Version string  `json:"version"`
	Body    *Schema `json:"body"`
}

// ParseJSON reads a definition derived from a vendor's OpenAPI specification.
func ParseJSON(data []byte) (*Definition, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var d Definition
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	if d.Body == nil || d.Body.Type != Object {
		return nil, fmt.Errorf("contract: %s %s: the body must be an object schema", d.Vendor, d.Entity)
	}
	return &d, nil
}

// Kind is what is wrong with a body.
type Kind string

const (
	// Unknown is a property the vendor does not define.
	Unknown Kind = "unknown property"
	// WrongType is a value of another JSON type than the vendor defines.
	WrongType Kind = "wrong type"
	// TooLong is a string longer than the vendor accepts.
	TooLong Kind = "too long"
	// MissingRequired is a required property that is absent, null or an empty string.
	MissingRequired Kind = "missing required property"
	// MissingOneOf is a group of which no property is present (null and "" count as absent).
	MissingOneOf Kind = "missing one of"
)

// Violation is one way a body breaks a definition. It names properties, never values.
type Violation struct {
	Kind Kind
	// Path is the property, dotted from the body's root (BillAddr.City, data[0].Last_Name).
	Path string
	// Group is the group of a MissingOneOf violation.
	Group []string
}

func (v Violation) String() string {
	if v.Kind == MissingOneOf {
		return fmt.Sprintf("%s: %s %s", v.Path, v.Kind, strings.Join(v.Group, ", "))
	}
	return fmt.Sprintf("%s: %s", v.Path, v.Kind)
}

// Check returns every way body breaks the definition, sorted by path; none when it conforms.
// A body that is not JSON is one WrongType violation at the root.
func (d *Definition) Check(body []byte) []Violation {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []Violation{{Kind: WrongType, Path: "(body)"}}
	}
	var out []Violation
	check(d.Body, v, "", &out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func check(s *Schema, v any, path string, out *[]Violation) {
	root := path
	if root == "" {
		root = "(body)"
	}
	if !isType(s.Type, v) {
		*out = append(*out, Violation{Kind: WrongType, Path: root})
		return
	}
	switch s.Type {
	case String:
		if s.MaxLength > 0 && utf8.RuneCountInString(v.(string)) > s.MaxLength {
			*out = append(*out, Violation{Kind: TooLong, Path: root})
		}
	case Array:
		if s.Items != nil {
			for i, e := range v.([]any) {
				check(s.Items, e, fmt.Sprintf("%s[%d]", path, i), out)
			}
		}
	case Object:
		checkObject(s, v.(map[string]any), path, out)
	}
}

func checkObject(s *Schema, obj map[string]any, path string, out *[]Violation) {
	// An empty string is as absent as null: vendors refuse it for a required value.
	present := func(name string) bool { return obj[name] != nil && obj[name] != "" }
	for _, name := range s.Required {
		if !present(name) {
			*out = append(*out, Violation{Kind: MissingRequired, Path: join(path, name)})
		}
	}
	for _, group := range s.AnyOf {
		if !slices.ContainsFunc(group, present) {
			*out = append(*out, Violation{Kind: MissingOneOf, Path: pathOrRoot(path), Group: group})
		}
	}
	if s.Properties == nil {
		return
	}
	for name, value := range obj {
		ps, ok := s.Properties[name]
		if !ok {
			*out = append(*out, Violation{Kind: Unknown, Path: join(path, name)})
			continue
		}
		if value != nil {
			check(ps, value, join(path, name), out)
		}
	}
}

func isType(t Type, v any) bool {
	switch v.(type) {
	case string:
		return t == String
	case bool:
		return t == Boolean
	case json.Number:
		return t == Number
	case map[string]any:
		return t == Object
	case []any:
		return t == Array
	}
	return false
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func pathOrRoot(path string) string {
	if path == "" {
		return "(body)"
	}
	return path
}

// Lookup returns the schema at a dotted path of property names (array levels are walked through
// their items), or nil when the definition has no such property.
func (d *Definition) Lookup(path string) *Schema {
	s := d.Body
	for _, name := range strings.Split(path, ".") {
		for s != nil && s.Type == Array {
			s = s.Items
		}
		if s == nil || s.Properties == nil {
			return nil
		}
		s = s.Properties[name]
	}
	return s
}

// EncodeError says why a codec cannot encode a record for a vendor. It names the property, never
// a value, so it is safe to log and to count.
type EncodeError struct {
	Vendor   string
	Entity   string
	Property string
	Reason   string
}

func (e *EncodeError) Error() string {
	return fmt.Sprintf("%s: %s.%s: %s", e.Vendor, e.Entity, e.Property, e.Reason)
}
