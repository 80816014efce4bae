package cyclereport

import (
	"reflect"
	"testing"
)

func TestSanitizeKeepsOnlyWhatTheContractAllows(t *testing.T) {
	cases := map[string]struct {
		in, want Summary
	}{
		"no cycle yet": {in: Summary{KeyringVersion: 3}, want: Summary{KeyringVersion: 3}},
		"identifiers kept": {
			in:   Summary{Cycle: &Cycle{Read: 2, Rejected: 1, Rejections: []Rejection{{Code: "MANDATORY_NOT_FOUND", Field: "Last_Name", Count: 1}}}},
			want: Summary{Cycle: &Cycle{Read: 2, Rejected: 1, Rejections: []Rejection{{Code: "MANDATORY_NOT_FOUND", Field: "Last_Name", Count: 1}}}},
		},
		"values replaced": {
			in: Summary{Cycle: &Cycle{Rejections: []Rejection{
				{Code: "6240", Field: "Ann Lee", Count: 1}, {Code: "ann@example.com", Field: "Email", Count: 1}}}},
			want: Summary{Cycle: &Cycle{Rejections: []Rejection{{Code: "6240", Field: "invalid", Count: 1}, {Code: "invalid", Field: "Email", Count: 1}}}},
		},
		"unknown failure reason": {
			in:   Summary{ConsecutiveFailures: -4, Cycle: &Cycle{Failure: "patient 7391 refused", Read: -1}},
			want: Summary{Cycle: &Cycle{Failure: FailureOther}},
		},
		"most frequent first, at most five": {
			in: Summary{Cycle: &Cycle{Rejections: []Rejection{{Code: "a", Count: 1}, {Code: "b", Count: 7}, {Code: "c", Count: 2},
				{Code: "d", Count: 3}, {Code: "e", Count: 1}, {Code: "f", Count: 9}}}},
			want: Summary{Cycle: &Cycle{Rejections: []Rejection{{Code: "f", Count: 9}, {Code: "b", Count: 7}, {Code: "d", Count: 3},
				{Code: "c", Count: 2}, {Code: "a", Count: 1}}}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Sanitize(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Sanitize = %+v %+v, want %+v %+v", got, got.Cycle, tc.want, tc.want.Cycle)
			}
		})
	}
}
