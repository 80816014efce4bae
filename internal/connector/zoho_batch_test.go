package connector

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	zohocrm "github.com/tenantwire/tenantwire/internal/connector/zoho"
	"github.com/tenantwire/tenantwire/internal/record"
	"github.com/tenantwire/tenantwire/internal/record/recordtest"
)

// batchRecord is a patient as the runtime hands it over.
func batchRecord(family, email string) Record {
	return Record{ID: recordtest.SourceID, PatientID: recordtest.SourceID,
		Patient: record.Patient{Source: record.Source{System: "cerbo", ID: recordtest.SourceID}, Name: record.Name{Family: family}, Email: email, Phone: "+1 555 0100"}}
}

func TestZohoBatchWritesManyRecordsPerRequestWithPerRecordResults(t *testing.T) {
	fz := newFakeZoho(t, 0)
	fz.refuseEmail = "refused@example.org"
	srv := newFake(t, fz)
	c := mustNew(t, SystemZoho, srv.URL, oauthCreds(nil), testOptions(srv.Server))
	batch, ok := c.(BatchDestination)
	if !ok || batch.MaxBatch() != 100 {
		t.Fatalf("the zoho connector is not a BatchDestination of 100 records")
	}
	ids := []string{"", "", "", "4150868000000000001", "", "4150868000000000002"}
	records := []Record{
		batchRecord("Lovelace", "ada@example.org"),
		batchRecord("Hopper", ""), // no email: an upsert without a duplicate check
		batchRecord("", "nofamily@example.org"),
		batchRecord("Noether", "emmy@example.org"),
		batchRecord("Refused", fz.refuseEmail),
		batchRecord("Refused", fz.refuseEmail),
	}
	results, err := batch.UpsertBatch(context.Background(), ids, records)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ id, err string }{
		{"z-new", ""},
		{"z-new", ""},
		{"", "record rejected (NOT_ENCODABLE on field Last_Name)"},
		{"4150868000000000001", ""},
		{"", "upsert contacts: record rejected (INVALID_DATA on field Email)"},
		{"", "update contacts: record rejected (INVALID_DATA on field Email)"},
	}
	for i, w := range want {
		got := results[i]
		if got.ID != w.id || (w.err == "") != (got.Err == nil) || (got.Err != nil && (!strings.Contains(got.Err.Error(), w.err) || !IsRejected(got.Err))) {
			t.Errorf("result %d = %q, %v; want %q, %q", i, got.ID, got.Err, w.id, w.err)
		}
	}
	// One upsert per duplicate check and one update: three requests for six records.
	if len(fz.writes) != 3 {
		t.Fatalf("%d writes, want 3", len(fz.writes))
	}
	for _, w := range fz.writes {
		if bytes.Contains(w.body, []byte(recordtest.SourceID)) || bytes.Contains(w.body, []byte("hypertension")) {
			t.Errorf("%s %s body = %s; it carries the source ID or a raw source field", w.method, w.path, w.body)
		}
	}
	if w := fz.writes[2]; w.method != http.MethodPut || w.path != "/crm/v8/Contacts" ||
		!bytes.Contains(w.body, []byte(`"id":"4150868000000000001"`)) || !bytes.Contains(w.body, []byte(`"id":"4150868000000000002"`)) {
		t.Errorf("update write = %s %s %s; want both Contacts named by their Zoho IDs", w.method, w.path, w.body)
	}
}

// TestZohoBatchRefusedAsAWholeIsWrittenOneByOne: Zoho answers 400 when every record of a body
// fails, which says nothing per record; the records are then written one by one so each gets its
// own result.
func TestZohoBatchRefusedAsAWholeIsWrittenOneByOne(t *testing.T) {
	fz := newFakeZoho(t, 0)
	fz.refuseEmail = "refused@example.org"
	srv := newFake(t, fz)
	c := mustNew(t, SystemZoho, srv.URL, oauthCreds(nil), testOptions(srv.Server)).(BatchDestination)
	results, err := c.UpsertBatch(context.Background(), []string{"", ""}, []Record{batchRecord("A", fz.refuseEmail), batchRecord("B", fz.refuseEmail)})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if r.ID != "" || !IsRejected(r.Err) || !strings.Contains(r.Err.Error(), "INVALID_DATA on field Email") || strings.Contains(r.Err.Error(), fz.refuseEmail) {
			t.Errorf("result %d = %q, %v", i, r.ID, r.Err)
		}
	}
	if len(fz.writes) != 3 {
		t.Errorf("%d writes, want the batch and then each record alone", len(fz.writes))
	}
}

func TestZohoBatchRefusesMoreThanZohoTakes(t *testing.T) {
	srv := newFake(t, newFakeZoho(t, 0))
	c := mustNew(t, SystemZoho, srv.URL, oauthCreds(nil), testOptions(srv.Server)).(BatchDestination)
	n := zohocrm.MaxBatch + 1
	records := make([]Record, n)
	for i := range records {
		records[i] = batchRecord(fmt.Sprint("P", i), "")
	}
	if _, err := c.UpsertBatch(context.Background(), make([]string, n), records); err == nil || !strings.Contains(err.Error(), "a batch takes 1 to 100 records") {
		t.Fatalf("err = %v", err)
	}
}
