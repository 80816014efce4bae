package main

import (
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
	got, err := auditWrites(strings.NewReader(log), managerUser, since, since.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if s := formatCounts(got); s != "patch integrations/status 2, patch tenants 1" {
		t.Errorf("counts = %q", s)
	}
	if _, err := auditWrites(strings.NewReader("{not json"), managerUser, since, since); err == nil {
		t.Error("a malformed line was not reported")
	}
}
