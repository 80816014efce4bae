package connector

import (
	"fmt"
	"testing"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
)

func TestRejectionOfNamesCodeAndField(t *testing.T) {
	tests := map[string]struct {
		err         error
		code, field string
	}{
		"codec refusal": {fmt.Errorf("connector: quickbooks: create customer: %w",
			&contract.EncodeError{Vendor: "quickbooks", Entity: "Customer", Property: "GivenName", Reason: "no name"}), "codec", "GivenName"},
		"vendor code and field": {&StatusError{System: "quickbooks", Status: 400, Code: joinCode("6240", "DisplayName")}, "6240", "DisplayName"},
		"vendor code only":      {&RejectedError{System: "zoho", Code: "DUPLICATE_DATA"}, "DUPLICATE_DATA", ""},
		"no code":               {&StatusError{System: "cerbo", Status: 422}, "http_422", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if code, field := RejectionOf(tc.err); code != tc.code || field != tc.field {
				t.Errorf("RejectionOf = %q, %q; want %q, %q", code, field, tc.code, tc.field)
			}
			if !IsRejected(tc.err) {
				t.Error("not a rejection")
			}
		})
	}
}
