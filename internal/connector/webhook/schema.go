package webhook

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"time"
	"unicode/utf8"
)

//go:embed testdata/delivery.schema.json
var deliverySchemaJSON []byte

// schema is the part of JSON Schema the delivery schema uses. Check refuses a schema that uses
// any other keyword, so the schema cannot say more than is checked.
type schema struct {
	Type                 string             `json:"type"`
	Properties           map[string]*schema `json:"properties"`
	Required             []string           `json:"required"`
	AdditionalProperties *bool              `json:"additionalProperties"`
	Pattern              string             `json:"pattern"`
	Enum                 []string           `json:"enum"`
	MinLength            int                `json:"minLength"`
	Format               string             `json:"format"`

	// Annotations, not checked.
	Schema      string `json:"$schema"`
	ID          string `json:"$id"`
	Title       string `json:"title"`
	Description string `json:"description"`
}

// CheckDelivery returns every way body breaks the delivery schema (testdata/delivery.schema.json),
// by property path and never with a value; none when it conforms.
func CheckDelivery(body []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(deliverySchemaJSON))
	dec.DisallowUnknownFields()
	var s schema
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("webhook: the delivery schema uses what CheckDelivery does not check: %w", err)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return []string{"(body): not JSON"}, nil
	}
	var out []string
	s.check(v, "(body)", &out)
	sort.Strings(out)
	return out, nil
}

func (s *schema) check(v any, path string, out *[]string) {
	add := func(format string, args ...any) { *out = append(*out, path+": "+fmt.Sprintf(format, args...)) }
	switch s.Type {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			add("not an object")
			return
		}
		for _, name := range s.Required {
			if _, ok := obj[name]; !ok {
				add("missing required property %s", name)
			}
		}
		for name, value := range obj {
			ps, ok := s.Properties[name]
			if !ok {
				if s.AdditionalProperties != nil && !*s.AdditionalProperties {
					add("unknown property %s", name)
				}
				continue
			}
			ps.check(value, path+"."+name, out)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			add("not a string")
			return
		}
		if utf8.RuneCountInString(str) < s.MinLength {
			add("shorter than %d characters", s.MinLength)
		}
		if s.Pattern != "" && !regexp.MustCompile(s.Pattern).MatchString(str) {
			add("does not match %s", s.Pattern)
		}
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, str) {
			add("not one of %v", s.Enum)
		}
		if s.Format == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				add("not an RFC 3339 date-time")
			}
		}
	default:
		add("the schema's type %q is not checked", s.Type)
	}
}
