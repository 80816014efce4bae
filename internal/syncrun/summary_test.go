package syncrun

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/cyclereport"
	"github.com/tenantwire/tenantwire/internal/record"
)

// quotingDestination refuses chosen records the way a careless vendor does: the error code names
// the field and then quotes the value it refused. It fails every write with an authorization
// refusal when refuseAuth is set.
type quotingDestination struct {
	*memoryDestination
	codes      map[string]string
	refuseAuth bool
}

func (d *quotingDestination) Upsert(ctx context.Context, id string, r connector.Record) (string, error) {
	if d.refuseAuth {
		return "", &connector.AuthorizationRefusedError{StatusError: &connector.StatusError{System: "quickbooks", Op: "refresh token",
			Status: http.StatusBadRequest, Code: "invalid_grant " + plantedRefreshToken}}
	}
	if code, ok := d.codes[r.ID]; ok {
		return "", &connector.RejectedError{System: "quickbooks", Op: "upsert", Code: code}
	}
	return d.memoryDestination.Upsert(ctx, id, r)
}

func getSummary(t *testing.T, h http.Handler) (cyclereport.Summary, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, cyclereport.Path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", cyclereport.Path, rec.Code, rec.Body)
	}
	var s cyclereport.Summary
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
		t.Fatalf("the summary is not JSON: %v\n%s", err, rec.Body)
	}
	return s, rec.Body.String()
}

// TestCycleSummaryHoldsNoValueIDOrCredential plays a vendor that quotes the patient's name, and
// a token endpoint that quotes the refresh token, in the error codes the runtime counts: the
// summary the operator reads says how many records were refused, by which code and field, and
// holds none of the planted values, patient IDs or credentials.
func TestCycleSummaryHoldsNoValueIDOrCredential(t *testing.T) {
	pid := "patient-" + plantedRealm
	records := []connector.Record{
		{ID: pid, PatientID: pid, Patient: record.Patient{Source: record.Source{System: "cerbo", ID: pid},
			Name: record.Name{Given: plantedFirstName, Family: plantedLastName}}},
	}
	records = append(records, patients(3)...)
	dst := &quotingDestination{memoryDestination: newMemoryDestination(), codes: map[string]string{
		pid:  "6240 on field DisplayName",
		"p1": "INVALID_DATA on field " + plantedFirstName + " " + plantedLastName + " " + plantedDOB,
	}}
	s := newSyncer(t, &pagedSource{records: records, pageSize: 2, failAt: -1}, dst, openSQLite(t), newKeyring(t, 2, 2))
	summary := newCycleSummary(s.Metrics)
	summary.setKeyringVersion(s.Codec.Keyring.Active)
	health := NewHealth(s.Metrics)
	health.cycle = summary
	h := health.handler()

	runCycle(context.Background(), s, summary, nil, testr.New(t), time.Now)
	got, body := getSummary(t, h)
	for _, planted := range append(plantedStrings(), pid) {
		if strings.Contains(body, planted) {
			t.Errorf("the summary holds the planted %q:\n%s", planted, body)
		}
	}
	c := got.Cycle
	if c == nil || c.Read != 4 || c.Created != 2 || c.Rejected != 2 || c.Failure != "" {
		t.Fatalf("cycle %+v, want 4 read, 2 created, 2 rejected, no failure", c)
	}
	want := []cyclereport.Rejection{{Code: "6240", Field: "DisplayName", Count: 1}, {Code: "INVALID_DATA", Field: "invalid", Count: 1}}
	if len(c.Rejections) != 2 || c.Rejections[0] != want[0] || c.Rejections[1] != want[1] {
		t.Errorf("rejections %+v, want %+v", c.Rejections, want)
	}
	if got.KeyringVersion != s.Codec.Keyring.Active || got.ConsecutiveFailures != 0 || got.AuthorizationRefused {
		t.Errorf("summary %+v", got)
	}

	// The vendor then refuses the authorization, twice: the summary counts the failures and says so.
	dst.refuseAuth = true
	s.Source = &pagedSource{records: patients(6), pageSize: 2, failAt: -1}
	for range 2 {
		runCycle(context.Background(), s, summary, nil, testr.New(t), time.Now)
	}
	got, body = getSummary(t, h)
	if strings.Contains(body, plantedRefreshToken) {
		t.Errorf("the summary holds the refresh token:\n%s", body)
	}
	if got.Cycle.Failure != cyclereport.FailureAuthorization || got.ConsecutiveFailures != 2 || !got.AuthorizationRefused {
		t.Errorf("after two refused authorizations: %+v %+v", got, got.Cycle)
	}

	// Authorized again: the next cycle completes and clears both.
	dst.refuseAuth = false
	runCycle(context.Background(), s, summary, nil, testr.New(t), time.Now)
	if got, _ = getSummary(t, h); got.ConsecutiveFailures != 0 || got.AuthorizationRefused || got.Cycle.Failure != "" {
		t.Errorf("after a completed cycle: %+v %+v", got, got.Cycle)
	}
}
