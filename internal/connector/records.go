package connector

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/tenantwire/tenantwire/internal/record"
)

// stringField reads an ID-like field that a vendor may send as a string or a number.
func stringField(obj map[string]any, key string) string {
	switch v := obj[key].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// canonicalRecord makes the Record of a patient a source codec decoded; the patient's ID in the
// source is the record's ID.
func canonicalRecord(p record.Patient) Record {
	return Record{ID: p.Source.ID, PatientID: p.Source.ID, UpdatedAt: p.UpdatedAt, Patient: p}
}

// errorCodeOf finds a vendor's error code in an error body: the first of the keys that holds a
// short string or a number. Messages are skipped on purpose: vendors echo field values in them.
func errorCodeOf(body []byte, keys ...string) string {
	var obj map[string]any
	if json.Unmarshal(body, &obj) != nil {
		return ""
	}
	for _, k := range keys {
		if s := stringField(obj, k); isCode(s) {
			return s
		}
	}
	return ""
}

// codePattern is what a machine-readable code or field name looks like; anything else (a sentence,
// a value) stays out of errors.
var codePattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

func isCode(s string) bool { return codePattern.MatchString(s) }

// codeFieldSeparator joins a vendor's error code and the field it concerns (joinCode, RejectionOf).
const codeFieldSeparator = " on field "

// joinCode joins a vendor's error code with the name (never the value) of the field it concerns.
func joinCode(code, field string) string {
	if !isCode(code) {
		return ""
	}
	if !isCode(field) {
		return code
	}
	return code + codeFieldSeparator + field
}

// missingIDError is an answer to a create call that does not say which ID the record got.
func missingIDError(system, op string) error {
	return fmt.Errorf("connector: %s: %s: the answer has no record ID", system, op)
}
