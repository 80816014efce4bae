package fakesystem

import (
	"slices"
	"testing"
)

// TestPropertyIndexFindsWhatAPassWould checks the index against the pass it replaces: the first
// record in order holding a value, case-folded when asked, and nothing under a value a record no
// longer holds.
func TestPropertyIndexFindsWhatAPassWould(t *testing.T) {
	records := []map[string]any{
		{"id": "1", "email": "A@example.org"},
		{"id": "2", "email": "b@example.org"},
		{"id": "3", "email": "a@EXAMPLE.org"},
		{"id": "4"},
	}
	x := newPropertyIndex(true, "id", "email")
	for i, r := range records {
		x.add(i, r)
	}
	if got := x.first("email", "a@example.org"); got != 0 {
		t.Errorf("first holder of a@example.org = %d, want 0 (case-folded, first in order)", got)
	}
	if got := x.find("email", "A@EXAMPLE.ORG"); !slices.Equal(got, []int{0, 2}) {
		t.Errorf("holders of A@EXAMPLE.ORG = %v, want [0 2]", got)
	}
	records[0]["email"] = "c@example.org"
	x.reindex(0, records[0])
	if got := x.first("email", "a@example.org"); got != 2 {
		t.Errorf("after record 0 changed its email, first holder of a@example.org = %d, want 2", got)
	}
	if got := x.first("email", "c@example.org"); got != 0 {
		t.Errorf("first holder of c@example.org = %d, want 0", got)
	}
	if got := x.first("email", nil); got != -1 {
		t.Errorf("a missing value matched record %d", got)
	}
	exact := newPropertyIndex(false, "DisplayName")
	exact.add(0, map[string]any{"DisplayName": "Ann Lee"})
	if got := exact.first("DisplayName", "ann lee"); got != -1 {
		t.Errorf("an exact index matched another case (record %d)", got)
	}
}
