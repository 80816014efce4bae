package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAuditWritesCountsOneUsersWritesInTheWindow(t *testing.T) {
	line := func(user, verb, resource, sub, at string) string {
		return `{"kind":"Event","verb":"` + verb + `","user":{"username":"` + user + `","groups":["system:serviceaccounts"]},` +
			`"objectRef":{"resource":"` + resource + `","subresource":"` + sub + `","namespace":"tenant-a","name":"x"},` +
			`"stageTimestamp":"` + at + `"}`
	}
	log := strings.Join([]string{
		line(managerUser, "patch", "integrations", "status", "2026-12-03T10:00:01Z"),
		line(managerUser, "patch", "integrations", "status", "2026-12-03T10:00:02Z"),
		line(managerUser, "patch", "tenants", "", "2026-12-03T10:00:03Z"),
		line(managerUser, "get", "tenants", "", "2026-12-03T10:00:03Z"),                                                      // a read
		line("system:serviceaccount:eso:eso", "update", "externalsecrets", "", "2026-12-03T10:00:04Z"),                       // someone else
		line(managerUser, "patch", "secrets", "", "2026-12-03T09:59:59Z"),                                                    // before the window
		line(managerUser, "patch", "secrets", "", "2026-12-03T10:01:01Z"),                                                    // after it
		`{"kind":"Event","verb":"create","user":{"username":"` + managerUser + `"},"stageTimestamp":"2026-12-03T10:00:05Z"}`, // no object
	}, "\n")
	since := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	got, err := auditCounts(strings.NewReader(log), managerUser, since, since.Add(time.Minute), writeVerbs)
	if err != nil {
		t.Fatal(err)
	}
	if s := formatCounts(got); s != "patch integrations/status 2, patch tenants 1" {
		t.Errorf("counts = %q", s)
	}
	reads, err := auditCounts(strings.NewReader(log), managerUser, since, since.Add(time.Minute), readVerbs)
	if err != nil {
		t.Fatal(err)
	}
	if s := formatCounts(reads); s != "get tenants 1" {
		t.Errorf("reads = %q", s)
	}
	if _, err := auditCounts(strings.NewReader("{not json"), managerUser, since, since, writeVerbs); err == nil {
		t.Error("a malformed line was not reported")
	}
}

// TestAuditCountsReadRotatedSegments: the API server starts a new file every 100 MB and keeps the
// old ones beside it; a run's requests are counted in all of them, oldest first.
func TestAuditCountsReadRotatedSegments(t *testing.T) {
	dir := t.TempDir()
	line := func(at string) string {
		return `{"verb":"patch","user":{"username":"` + managerUser + `"},"objectRef":{"resource":"roles"},"stageTimestamp":"` + at + `"}` + "\n"
	}
	for name, body := range map[string]string{
		"audit-2026-12-04T18-26-29.596.log": line("2026-12-04T18:20:00Z"),
		"audit-2026-12-04T18-37-41.517.log": line("2026-12-04T18:30:00Z") + line("2026-12-04T18:31:00Z"),
		"audit.log":                         line("2026-12-04T18:40:00Z"),
		"kube-apiserver.log":                line("2026-12-04T18:40:00Z"), // not the audit log
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	since := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	got, err := auditCountsIn(filepath.Join(dir, "audit.log"), managerUser, since, since.Add(time.Hour), writeVerbs)
	if err != nil {
		t.Fatal(err)
	}
	if got != "patch roles 4" {
		t.Errorf("counts = %q, want the four writes of the three segments", got)
	}
}
