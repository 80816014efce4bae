package testenv

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// FaultRow is one row of the fault matrix (docs/operations.md, "Fault matrix"): a fault played
// against the operator or the sync runtime, and what it cost once recovery converged.
type FaultRow struct {
	Fault string
	// Outcome says what happened, in a few words.
	Outcome string
	// RowsLost counts mapping rows that no longer open after recovery; it must be 0.
	RowsLost int
	// Duplicates counts destination records created twice for one patient; it must be 0.
	Duplicates int
	// Recovery is measured from the end of the fault (the store back, the Secret restored, a new
	// operator started) to the converged end state.
	Recovery time.Duration
	Test     string
}

// CheckFaultRows fails the test for every row that lost a mapping row or duplicated a record,
// and logs the rows as a Markdown table, as docs/operations.md shows it.
func CheckFaultRows(t *testing.T, rows []FaultRow) {
	t.Helper()
	var b strings.Builder
	b.WriteString("\n| Fault | What happens | Mapping rows lost | Duplicate records | Time to recover | Test |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | `%s` |\n", r.Fault, r.Outcome, r.RowsLost, r.Duplicates, r.Recovery.Round(time.Millisecond), r.Test)
		if r.RowsLost != 0 || r.Duplicates != 0 {
			t.Errorf("fault %q lost %d mapping rows and duplicated %d records; both must be 0", r.Fault, r.RowsLost, r.Duplicates)
		}
	}
	t.Log(b.String())
}
