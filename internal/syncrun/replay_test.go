package syncrun

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/tenantwire/tenantwire/internal/connector"
	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
	"github.com/tenantwire/tenantwire/internal/cyclereport"
)

// fetchingSource is a pagedSource that also reads one record by ID, as Cerbo's GET
// /patients/{id} does, and counts the reads by ID.
type fetchingSource struct {
	*pagedSource
	gets map[string]int
}

func (f *fetchingSource) Get(_ context.Context, id string) (connector.Record, error) {
	f.gets[id]++
	for _, r := range f.records {
		if r.ID == id {
			return r, nil
		}
	}
	return connector.Record{}, connector.ErrRecordGone
}

// TestReplayWritesARejectedRecordOnceAndRemovesIt: the destination refuses a record, the cause is
// fixed, a replay is requested: the record is read again by ID and created exactly once, its row
// leaves the table, the same request does not run again (also after a restart), and the table
// never held the ID in clear.
func TestReplayWritesARejectedRecordOnceAndRemovesIt(t *testing.T) {
	st, path := sqliteAt(t)
	k := newKeyring(t, 1, 1)
	recs := patients(3)
	recs[1].ID, recs[1].PatientID, recs[1].Patient.Source.ID = plantedID, plantedID, plantedID
	src := &fetchingSource{pagedSource: &pagedSource{records: recs, pageSize: 2, failAt: -1}, gets: map[string]int{}}
	dst := newMemoryDestination()
	dst.reject[plantedID] = true
	s := newSyncer(t, src, dst, st, k)
	summary := newCycleSummary(s.Metrics)
	cycle := func(s *Syncer) cyclereport.Summary {
		t.Helper()
		runCycle(context.Background(), s, summary, nil, testr.New(t), time.Now)
		got := summary.Summary()
		if got.Cycle.Failure != "" {
			t.Fatalf("the cycle failed: %s", got.Cycle.Failure)
		}
		return got
	}
	if got := cycle(s); got.Cycle.Rejected != 1 || got.PendingReplay != 1 {
		t.Fatalf("first cycle rejected %d, pending replay %d; want 1 and 1", got.Cycle.Rejected, got.PendingReplay)
	}
	assertNotInFile(t, path, plantedID)

	// Still refused: the replay keeps the row, one attempt more.
	s.Replay = "ticket-1"
	got := cycle(s)
	if got.Replay == nil || *got.Replay != (cyclereport.Replay{Request: "ticket-1", Rejected: 1}) || got.PendingReplay != 1 {
		t.Fatalf("replay while still refused: %+v, pending %d; want 1 rejected again, 1 pending", got.Replay, got.PendingReplay)
	}
	if rows := readRejectedTable(t, path); len(rows) != 1 || rows[0].attempts != 2 {
		t.Fatalf("rejected rows %+v, want one with 2 attempts", rows)
	}

	// The cause is fixed at the destination; a new replay writes the record once and drops its row.
	delete(dst.reject, plantedID)
	s.Replay = "ticket-2"
	got = cycle(s)
	if got.Replay == nil || *got.Replay != (cyclereport.Replay{Request: "ticket-2", Replayed: 1}) || got.PendingReplay != 0 {
		t.Fatalf("replay after the fix: %+v, pending %d; want 1 replayed, 0 pending", got.Replay, got.PendingReplay)
	}
	if rows := readRejectedTable(t, path); len(rows) != 0 {
		t.Fatalf("the replayed record's row is still in the table: %+v", rows)
	}
	if src.gets[plantedID] != 2 || len(src.gets) != 1 {
		t.Errorf("records read by ID: %v; want only the rejected one, once per replay", src.gets)
	}
	creates := dst.creates
	if creates != 3 {
		t.Errorf("the destination has had %d creates, want 3: each patient once", creates)
	}

	// The same request, also in a restarted pod, replays nothing again.
	cycle(s)
	restarted := newSyncer(t, src, dst, st, k)
	restarted.Replay = "ticket-2"
	summary = newCycleSummary(restarted.Metrics)
	got = cycle(restarted)
	if got.Replay == nil || got.Replay.Request != "ticket-2" || got.Replay.Replayed != 1 {
		t.Errorf("after a restart the last replay is %+v, want ticket-2 with 1 replayed", got.Replay)
	}
	if src.gets[plantedID] != 2 || dst.creates != creates {
		t.Errorf("the same request ran again: %d reads by ID, %d creates", src.gets[plantedID], dst.creates)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	assertNotInFile(t, path, plantedID)
}

// TestReplayFromASourceThatCannotReadByIDSaysSo: a webhook source has records delivered to it
// and cannot be asked for one; the replay is reported as unsupported and the rows stay.
func TestReplayFromASourceThatCannotReadByIDSaysSo(t *testing.T) {
	st := openSQLite(t)
	dst := newMemoryDestination()
	dst.reject["p0"] = true
	s := newSyncer(t, &pagedSource{records: patients(1), pageSize: 2, failAt: -1}, dst, st, newKeyring(t, 1, 1))
	summary := newCycleSummary(s.Metrics)
	runCycle(context.Background(), s, summary, nil, testr.New(t), time.Now)
	s.Replay = "ticket-1"
	runCycle(context.Background(), s, summary, nil, testr.New(t), time.Now)
	got := summary.Summary()
	if got.Replay == nil || !got.Replay.Unsupported || got.Replay.Replayed != 0 || got.PendingReplay != 1 {
		t.Fatalf("replay %+v pending %d; want unsupported with the row kept", got.Replay, got.PendingReplay)
	}
}

// TestReplayReadsARejectedCerboPatientByID runs the replay against the Cerbo fake behind the real
// connector: the rejected patient is read again with GET /api/v1/patients/{id}, once, and only it.
func TestReplayReadsARejectedCerboPatientByID(t *testing.T) {
	var gets atomic.Int32
	cerbo := serveVendor(t, batchVendor{name: connector.SystemCerbo,
		serve: func() (http.Handler, func() fakesystem.Stats, func() int) {
			c := fakesystem.NewCerbo("api-user", "k3y",
				map[string]any{"id": 1, "first_name": "A", "last_name": "One", "updated_at": "2026-01-01T00:00:00Z"},
				map[string]any{"id": 2, "first_name": "B", "last_name": "Two", "updated_at": "2026-01-02T00:00:00Z"})
			return c, func() fakesystem.Stats { return fakesystem.Stats{} }, func() int { return 0 }
		},
		creds: func(string) connector.Credentials {
			return connector.Credentials{"username": []byte("api-user"), "api_key": []byte("k3y")}
		}}, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The connector is pointed at the server's root; the fake serves under Cerbo's base path.
			r.URL.Path = fakesystem.CerboBasePath + r.URL.Path
			if r.Method == http.MethodGet && r.URL.Path == fakesystem.CerboBasePath+"/patients/2" {
				gets.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	})
	st := openSQLite(t)
	dst := newMemoryDestination()
	dst.reject["2"] = true
	s := newSyncer(t, cerbo.connect(t), dst, st, newKeyring(t, 1, 1))
	summary := newCycleSummary(s.Metrics)
	runCycle(context.Background(), s, summary, nil, testr.New(t), time.Now)
	if got := summary.Summary(); got.Cycle.Failure != "" || got.Cycle.Rejected != 1 || got.PendingReplay != 1 {
		t.Fatalf("first cycle %+v, pending %d; want patient 2 rejected and kept", got.Cycle, got.PendingReplay)
	}
	delete(dst.reject, "2")
	s.Replay = "ticket-1"
	runCycle(context.Background(), s, summary, nil, testr.New(t), time.Now)
	got := summary.Summary()
	if got.Replay == nil || *got.Replay != (cyclereport.Replay{Request: "ticket-1", Replayed: 1}) || got.PendingReplay != 0 {
		t.Fatalf("replay %+v, pending %d; want patient 2 replayed", got.Replay, got.PendingReplay)
	}
	if gets.Load() != 1 || dst.creates != 2 {
		t.Errorf("GET /patients/2 %d times, %d creates; want 1 and 2", gets.Load(), dst.creates)
	}
}
