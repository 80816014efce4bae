package contract

import (
	"encoding/xml"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The parts of an XML Schema that vendor entity definitions use: named complex types that extend
// one another, with sequences of elements and attributes. In the vendor's JSON form, elements and
// attributes are both properties.
type xsdFile struct {
	ComplexTypes []xsdComplexType `xml:"complexType"`
}

type xsdComplexType struct {
	Name       string         `xml:"name,attr"`
	Elements   []xsdElement   `xml:"sequence>element"`
	Attributes []xsdAttribute `xml:"attribute"`
	Extension  *struct {
		Base       string         `xml:"base,attr"`
		Elements   []xsdElement   `xml:"sequence>element"`
		Attributes []xsdAttribute `xml:"attribute"`
	} `xml:"complexContent>extension"`
}

type xsdElement struct {
	Name      string `xml:"name,attr"`
	Type      string `xml:"type,attr"`
	MaxOccurs string `xml:"maxOccurs,attr"`
	Doc       string `xml:"annotation>documentation"`
}

type xsdAttribute struct {
	Name string `xml:"name,attr"`
	Type string `xml:"type,attr"`
	Use  string `xml:"use,attr"`
}

var (
	// maxLengthDoc is how the vendor's annotations state a string's limit ("Max. length: 25
	// characters", "Max length: 21 characters").
	maxLengthDoc = regexp.MustCompile(`Max\.? length: (\d+) characters`)
	// atLeastOneDoc is how they state that one of a group of elements is required.
	atLeastOneDoc = regexp.MustCompile(`At least one of the [a-z ]+ is required: ([A-Za-z, ]+)\.`)
)

// ParseXSD reads an XSD excerpt and returns the definition of one of its complex types. Limits and
// "at least one of" rules stated in element annotations become MaxLength and AnyOf; annotation
// lines for another product (QBW) are ignored.
func ParseXSD(data []byte, vendor, entity, version string) (*Definition, error) {
	var f xsdFile
	if err := xml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("contract: %s %s: %w", vendor, entity, err)
	}
	types := make(map[string]xsdComplexType, len(f.ComplexTypes))
	for _, t := range f.ComplexTypes {
		types[t.Name] = t
	}
	body, err := xsdObject(types, entity, nil)
	if err != nil {
		return nil, fmt.Errorf("contract: %s %s: %w", vendor, entity, err)
	}
	return &Definition{Vendor: vendor, Entity: entity, Version: version, Body: body}, nil
}

func xsdObject(types map[string]xsdComplexType, name string, seen []string) (*Schema, error) {
	if slices.Contains(seen, name) {
		return nil, fmt.Errorf("type %s contains itself", name)
	}
	seen = append(seen, name)
	t, ok := types[name]
	if !ok {
		return nil, fmt.Errorf("no complex type %s", name)
	}
	s := &Schema{Type: Object, Properties: map[string]*Schema{}}
	elements, attributes := t.Elements, t.Attributes
	if t.Extension != nil {
		base, err := xsdObject(types, t.Extension.Base, seen)
		if err != nil {
			return nil, err
		}
		s = base
		elements, attributes = t.Extension.Elements, t.Extension.Attributes
	}
	for _, e := range elements {
		p, err := xsdProperty(types, e.Type, seen)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", name, e.Name, err)
		}
		if p.Type == String {
			p.MaxLength = docMaxLength(e.Doc)
		}
		if e.MaxOccurs == "unbounded" {
			p = &Schema{Type: Array, Items: p}
		}
		s.Properties[e.Name] = p
		if group := docAtLeastOne(e.Doc); group != nil && !slices.ContainsFunc(s.AnyOf, func(g []string) bool { return slices.Equal(g, group) }) {
			s.AnyOf = append(s.AnyOf, group)
		}
	}
	for _, a := range attributes {
		p, err := xsdProperty(types, a.Type, seen)
		if err != nil {
			return nil, fmt.Errorf("%s@%s: %w", name, a.Name, err)
		}
		s.Properties[a.Name] = p
		if a.Use == "required" {
			s.Required = append(s.Required, a.Name)
		}
	}
	return s, nil
}

// xsdProperty maps an XSD type to a property schema. id is the vendors' own simple type for
// identifiers, a string in JSON.
func xsdProperty(types map[string]xsdComplexType, typ string, seen []string) (*Schema, error) {
	switch typ {
	case "xs:string", "id", "xs:date", "xs:dateTime":
		return &Schema{Type: String}, nil
	case "xs:boolean":
		return &Schema{Type: Boolean}, nil
	case "xs:int", "xs:long", "xs:decimal":
		return &Schema{Type: Number}, nil
	}
	return xsdObject(types, typ, seen)
}

// docLines returns the lines of an annotation that apply to the product this definition is for:
// annotations describe several products, each section opened by a "Product:" line, and single
// rules may be marked for one product ("ValidationRules: QBW: ...").
func docLines(doc string) []string {
	var out []string
	product := "ALL"
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		if p, ok := strings.CutPrefix(line, "Product:"); ok {
			product = strings.TrimSpace(p)
			continue
		}
		if line == "" || product == otherProduct || strings.Contains(line, otherProduct+":") {
			continue
		}
		out = append(out, line)
	}
	return out
}

// otherProduct is the vendor product whose annotation lines do not apply: the XSDs describe
// QuickBooks Online (QBO) and QuickBooks Desktop (QBW) together.
const otherProduct = "QBW"

func docMaxLength(doc string) int {
	for _, line := range docLines(doc) {
		if m := maxLengthDoc.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
	}
	return 0
}

func docAtLeastOne(doc string) []string {
	for _, line := range docLines(doc) {
		if m := atLeastOneDoc.FindStringSubmatch(line); m != nil {
			var group []string
			for _, name := range strings.Split(strings.ReplaceAll(m[1], " or ", " "), ",") {
				if name = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), "or ")); name != "" {
					group = append(group, name)
				}
			}
			return group
		}
	}
	return nil
}
