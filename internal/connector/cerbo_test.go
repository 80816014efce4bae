package connector

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
	"github.com/tenantwire/tenantwire/internal/record"
)

// newFakeCerbo serves three patients for cerboCreds.
func newFakeCerbo() *fakesystem.Cerbo {
	return fakesystem.NewCerbo("api-user", "k3y-value",
		map[string]any{"id": 3, "first_name": "C", "updated_at": "2026-01-03T00:00:00Z"},
		map[string]any{"id": 2, "first_name": "B", "updated_at": "2026-01-02T00:00:00Z"},
		map[string]any{"id": 1, "first_name": "A", "updated_at": "2026-01-01T00:00:00Z"},
	)
}

func TestCerboChangesPaginates(t *testing.T) {
	srv := newFake(t, newFakeCerbo())
	c := mustNew(t, SystemCerbo, srv.URL+"/api/v1", cerboCreds, testOptions(srv.Server))
	pages := readAll(t, c)
	wantScan(t, pages, "3", "2", "1")
	first := pages[0].Records[0]
	if first.PatientID != "3" || !first.UpdatedAt.Equal(ts("2026-01-03T00:00:00Z")) || first.Patient.Name.Given != "C" || first.Patient.Source.ID != "3" {
		t.Errorf("first record = %+v", first)
	}

	// The next scan starts at the newest change seen, inclusively.
	next, err := c.Changes(context.Background(), pages[1].Next)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids([]Page{next}); !slices.Equal(got, []string{"3"}) || next.More {
		t.Errorf("next scan = %v (More %v), want only the newest record again", got, next.More)
	}
	last := srv.requests[len(srv.requests)-1].URL.Query()
	if last.Get("updated_since") != "2026-01-03T00:00:00Z" || last.Get("offset") != "0" {
		t.Errorf("next scan query = %v", last)
	}
}

func TestCerboUpsert(t *testing.T) {
	fc := newFakeCerbo()
	srv := newFake(t, fc)
	c := mustNew(t, SystemCerbo, srv.URL+"/api/v1", cerboCreds, testOptions(srv.Server))
	id, err := c.Upsert(context.Background(), "", Record{ID: "src-1", Patient: record.Patient{Name: record.Name{Given: "New", Family: "Patient"}}})
	if err != nil || id != "4" || fc.Patient("4")["first_name"] != "New" || fc.Patient("4")["last_name"] != "Patient" {
		t.Fatalf("create = %q, %v; want patient 4", id, err)
	}
	id, err = c.Upsert(context.Background(), "2", Record{ID: "src-2", Patient: record.Patient{Email: "b@example.org"}})
	if err != nil || id != "2" {
		t.Fatalf("update = %q, %v; want 2", id, err)
	}
	// The PATCH names only the email: the name the patient has in Cerbo stays.
	if got := fc.Patient("2"); got["email1"] != "b@example.org" || got["first_name"] != "B" || got["updated_at"] == "2026-01-02T00:00:00Z" {
		t.Errorf("patient 2 after the PATCH = %v", got)
	}
	// A create without a last name is refused by the codec, before a request, as a rejection.
	before := srv.seen("/")
	_, err = c.Upsert(context.Background(), "", Record{ID: "src-3", Patient: record.Patient{Name: record.Name{Given: "Only"}}})
	if !IsRejected(err) || !strings.Contains(err.Error(), "last_name") || strings.Contains(err.Error(), "Only") || srv.seen("/") != before {
		t.Errorf("create without a last name = %v after %d requests; want a rejection naming last_name and no request", err, srv.seen("/")-before)
	}
}

func TestCerboPartialFailure(t *testing.T) {
	srv := newFake(t, newFakeCerbo())
	c := mustNew(t, SystemCerbo, srv.URL+"/api/v1", cerboCreds, testOptions(srv.Server))
	patient := func(dob record.Date) record.Patient {
		return record.Patient{Name: record.Name{Given: "A", Family: "B"}, DateOfBirth: dob}
	}
	records := []Record{
		{ID: "a", Patient: patient(record.Date{Year: 2000, Month: 1, Day: 1})},
		// Month 13: Cerbo answers 422 with the value in its message.
		{ID: "b", Patient: patient(record.Date{Year: 2000, Month: 13, Day: 1})},
		{ID: "c", Patient: patient(record.Date{Year: 2001, Month: 1, Day: 1})},
	}
	written, err := UpsertAll(context.Background(), c, make([]string, 3), records)
	if !slices.Equal(written, []string{"4", "", "5"}) {
		t.Errorf("written = %v, want records 0 and 2 written", written)
	}
	var rec *RecordError
	if !errors.As(err, &rec) || rec.Index != 1 || rec.SourceID != "b" {
		t.Fatalf("error = %v, want a RecordError for record 1", err)
	}
	msg := err.Error()
	for _, want := range []string{"record 1", "cerbo", "create patient", "HTTP 422", "invalid_date on field dob"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "2000-13-01") {
		t.Errorf("error %q leaks the field value", msg)
	}
}

func TestUpsertAllStopsOnErrorsThatFailEveryRecord(t *testing.T) {
	srv := newFake(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusForbidden) }))
	c := mustNew(t, SystemCerbo, srv.URL, cerboCreds, testOptions(srv.Server))
	named := Record{Patient: record.Patient{Name: record.Name{Given: "A", Family: "B"}}}
	_, err := UpsertAll(context.Background(), c, make([]string, 3), []Record{named, named, named})
	var rec *RecordError
	if err == nil || errors.As(err, &rec) || srv.seen("/") != 1 {
		t.Fatalf("UpsertAll = %v after %d requests; want one 403 ending the batch", err, srv.seen("/"))
	}
}

func TestCursorRejectsForeignValues(t *testing.T) {
	srv := newFake(t, newFakeCerbo())
	c := mustNew(t, SystemCerbo, srv.URL+"/api/v1", cerboCreds, testOptions(srv.Server))
	for _, cursor := range []string{"garbage", "v1.!!!", "v1." + strings.Repeat("A", 8)} {
		if _, err := c.Changes(context.Background(), cursor); err == nil || !strings.Contains(err.Error(), "not one this connector wrote") {
			t.Errorf("Changes(%q) = %v, want a cursor error", cursor, err)
		}
	}
	if n := srv.seen("/"); n != 0 {
		t.Errorf("a bad cursor sent %d requests", n)
	}
}

func TestScanCursorNext(t *testing.T) {
	since := ts("2026-01-01T00:00:00Z")
	recs := []Record{{UpdatedAt: ts("2026-01-05T00:00:00Z")}, {UpdatedAt: ts("2026-01-03T00:00:00Z")}}
	tests := map[string]struct {
		cur     scanCursor
		records []Record
		more    bool
		overlap time.Duration
		want    scanCursor
	}{
		"more keeps the bound and moves": {cur: scanCursor{Since: since, Pos: 2}, records: recs, more: true,
			want: scanCursor{Since: since, Pos: 4, Max: ts("2026-01-05T00:00:00Z")}},
		"end starts the next scan at the newest": {cur: scanCursor{Since: since, Pos: 2, Max: ts("2026-01-04T00:00:00Z")}, records: recs,
			want: scanCursor{Since: ts("2026-01-05T00:00:00Z")}},
		"end with an overlap": {cur: scanCursor{Since: since}, records: recs, overlap: time.Second,
			want: scanCursor{Since: ts("2026-01-04T23:59:59Z")}},
		"nothing changed keeps the bound": {cur: scanCursor{Since: since}, want: scanCursor{Since: since}},
		"earlier Max from a previous page counts": {cur: scanCursor{Since: since, Pos: 2, Max: ts("2026-02-01T00:00:00Z")}, records: recs,
			want: scanCursor{Since: ts("2026-02-01T00:00:00Z")}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := tt.cur.next(tt.records, len(tt.records), tt.more, tt.overlap)
			if !got.Since.Equal(tt.want.Since) || got.Pos != tt.want.Pos || !got.Max.Equal(tt.want.Max) {
				t.Errorf("next = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCerboGetReadsOnePatientAgain(t *testing.T) {
	srv := newFake(t, newFakeCerbo())
	c := mustNew(t, SystemCerbo, srv.URL+"/api/v1", cerboCreds, testOptions(srv.Server))
	src, ok := c.(RecordSource)
	if !ok {
		t.Fatal("the Cerbo connector cannot read a patient by ID: rejected records could not be replayed")
	}
	rec, err := src.Get(context.Background(), "2")
	if err != nil || rec.ID != "2" || rec.PatientID != "2" || rec.Patient.Name.Given != "B" {
		t.Fatalf("Get(2) = %+v, %v; want patient 2", rec, err)
	}
	if last := srv.requests[len(srv.requests)-1]; last.Method != http.MethodGet || last.URL.Path != "/api/v1/patients/2" {
		t.Errorf("request %s %s, want GET /api/v1/patients/2", last.Method, last.URL.Path)
	}
	if _, err := src.Get(context.Background(), "99"); !errors.Is(err, ErrRecordGone) {
		t.Errorf("Get of a patient Cerbo no longer has = %v, want ErrRecordGone", err)
	}
}
