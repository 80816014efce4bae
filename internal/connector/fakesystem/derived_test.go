package fakesystem_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
	"github.com/tenantwire/tenantwire/internal/connector/gohighlevel"
	"github.com/tenantwire/tenantwire/internal/connector/quickbooks"
	"github.com/tenantwire/tenantwire/internal/connector/zoho"
)

// contractUnderTest is one fake's write endpoint and the definition it must enforce.
type contractUnderTest struct {
	definition func(t *testing.T) *contract.Definition
	// start serves a fresh fake and answers a write of body.
	start func(t *testing.T) func(body map[string]any) reply
	// valid turns the definition's full sample into a body the fake must accept.
	valid func(body map[string]any)
	// refusal is the vendor's answer to a body with exactly these violations.
	refusal func(v []contract.Violation) (int, []byte)
}

var contractsUnderTest = map[string]contractUnderTest{
	"quickbooks Customer create": {
		definition: customerDefinition,
		start: func(t *testing.T) func(map[string]any) reply {
			_, a := newQuickBooks(t)
			return func(body map[string]any) reply { return a.do(http.MethodPost, customerPath, body) }
		},
		valid: func(body map[string]any) {
			delete(body, "Id")
			delete(body, "SyncToken")
		},
		refusal: quickbooks.Refusal,
	},
	"zoho Contacts upsert": {
		definition: contactsDefinition,
		start: func(t *testing.T) func(map[string]any) reply {
			_, a := newZoho(t)
			return func(body map[string]any) reply { return a.do(http.MethodPost, upsertPath, body) }
		},
		valid: func(body map[string]any) {
			for _, r := range body["data"].([]any) {
				delete(r.(map[string]any), "id")
			}
		},
		// A record's single violation is that record's result, worded as zoho.Refusal words it;
		// with no record written, the answer is 400 like zoho.Refusal's.
		refusal: zoho.Refusal,
	},
	"gohighlevel contact upsert": {
		definition: contactDefinition,
		start: func(t *testing.T) func(map[string]any) reply {
			_, a := newGoHighLevel(t)
			return func(body map[string]any) reply { return a.do(http.MethodPost, "/contacts/upsert", body) }
		},
		valid:   func(body map[string]any) { body["locationId"] = location },
		refusal: gohighlevel.Refusal,
	},
}

// requirement is a property (or group, of which one is needed) the definition requires, at a
// path of property names where "[]" steps into an array's first element.
type requirement struct {
	path  []string
	group []string
}

func requirements(s *contract.Schema, path []string) []requirement {
	var out []requirement
	switch s.Type {
	case contract.Array:
		if s.Items != nil {
			out = append(out, requirements(s.Items, append(slices.Clone(path), "[]"))...)
		}
	case contract.Object:
		for _, name := range s.Required {
			out = append(out, requirement{path: path, group: []string{name}})
		}
		for _, group := range s.AnyOf {
			out = append(out, requirement{path: path, group: group})
		}
		for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
			out = append(out, requirements(s.Properties[name], append(slices.Clone(path), name))...)
		}
	}
	return out
}

// at walks body to the object at path.
func at(body any, path []string) map[string]any {
	for _, step := range path {
		if step == "[]" {
			body = body.([]any)[0]
		} else {
			body = body.(map[string]any)[step]
		}
	}
	return body.(map[string]any)
}

func clone(t *testing.T, v map[string]any) map[string]any {
	var out map[string]any
	if err := json.Unmarshal(mustJSON(t, v), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFakesEnforceTheirDefinitions derives what each destination fake accepts and requires from
// the definition kept under its vendor package's testdata, so a fake cannot drift from the vendor
// it stands for: a body using every defined property is accepted; dropping any required property
// or group, at any depth, is refused; adding any property the definition lacks (each property of a
// Cerbo patient it does not define) is refused; every refusal is the vendor's, as the vendor
// package's Refusal words it, and no write happened.
func TestFakesEnforceTheirDefinitions(t *testing.T) {
	for name, c := range contractsUnderTest {
		t.Run(name, func(t *testing.T) {
			d := c.definition(t)
			full := sample(d.Body).(map[string]any)
			c.valid(full)
			if r := c.start(t)(clone(t, full)); r.status != http.StatusOK {
				t.Fatalf("the definition's full sample = %d %s", r.status, r.body)
			}
			var cases []map[string]any
			for _, req := range requirements(d.Body, nil) {
				body := clone(t, full)
				for _, name := range req.group {
					delete(at(body, req.path), name)
				}
				cases = append(cases, body)
			}
			if len(cases) == 0 {
				t.Fatal("the definition requires nothing; the vendor's required fields are missing from it")
			}
			// Where a body carries records (Zoho's data), the records are the patients.
			patientPath, patient := []string{}, d.Body
			if records := d.Lookup("data"); records != nil {
				patientPath, patient = []string{"data", "[]"}, records.Items
			}
			for _, property := range slices.Sorted(maps.Keys(fakesystem.CerboPatientProperties)) {
				if _, defined := patient.Properties[property]; defined {
					continue
				}
				body := clone(t, full)
				at(body, patientPath)[property] = "x"
				cases = append(cases, body)
			}
			for _, body := range cases {
				violations := d.Check(mustJSON(t, body))
				if len(violations) != 1 {
					t.Fatalf("case %s has violations %v, want exactly one", mustJSON(t, body), violations)
				}
				r := c.start(t)(body)
				status, want := c.refusal(violations)
				if r.status != status || !bytes.Equal(bytes.TrimSpace(r.body), want) {
					t.Errorf("%s: answer = %d %s\nwant %d %s", violations[0], r.status, r.body, status, want)
				}
				if strings.Contains(string(r.body), `"x"`) {
					t.Errorf("%s: the refusal echoes a value: %s", violations[0], r.body)
				}
			}
		})
	}
}
