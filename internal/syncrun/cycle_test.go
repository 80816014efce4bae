package syncrun

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/mappingstore"
)

func TestCycleCreatesThenUpdatesThroughTheMapping(t *testing.T) {
	st := openSQLite(t)
	src := &pagedSource{records: patients(7), pageSize: 3, failAt: -1}
	dst := newMemoryDestination()
	s := newSyncer(t, src, dst, st, newKeyring(t, 1, 1))
	ctx := context.Background()

	res, err := s.Cycle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 7 || res.Pages != 3 || dst.creates != 7 {
		t.Fatalf("first cycle: %+v, destination creates %d; want 7 created over 3 pages", res, dst.creates)
	}
	rec, err := mappingstore.Lookup(ctx, st, s.Codec, "cerbo", "p4")
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.IDs["quickbooks"]; got != "dest-5" {
		t.Fatalf("p4 maps to %q, want dest-5", got)
	}

	// The source replays everything (as after a cursor reset): every record is found through the
	// mapping and updated in place, none created again.
	if err := s.commitCursor(ctx, ""); err != nil {
		t.Fatal(err)
	}
	res, err = s.Cycle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Updated != 7 || res.Created != 0 || dst.creates != 7 || dst.updates != 7 {
		t.Fatalf("replay: %+v, creates %d updates %d; want 7 updates and no new creates", res, dst.creates, dst.updates)
	}
	if got := testutil.ToFloat64(s.Metrics.Records.WithLabelValues(resultCreated)); got != 7 {
		t.Fatalf("created metric %v, want 7", got)
	}
	if testutil.ToFloat64(s.Metrics.LastSuccess) == 0 {
		t.Fatal("last success timestamp not set")
	}
}

func TestCycleStoppedByShutdownResumesWithoutDuplicates(t *testing.T) {
	st := openSQLite(t)
	src := &pagedSource{records: patients(10), pageSize: 4, failAt: -1}
	dst := newMemoryDestination()
	s := newSyncer(t, src, dst, st, newKeyring(t, 1, 1))
	ctx, cancel := context.WithCancel(context.Background())
	// SIGTERM arrives while the sixth record (second page) is being written.
	dst.onUpsert = func(n int) {
		if n == 6 {
			cancel()
		}
	}
	if _, err := s.Cycle(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted cycle returned %v, want context.Canceled", err)
	}
	cursor, err := s.readCursor(context.Background())
	if err != nil || cursor != "4" {
		t.Fatalf("cursor after shutdown = %q, %v; want 4 (after the first complete page)", cursor, err)
	}
	if dst.creates != 6 {
		t.Fatalf("the record in flight at shutdown must finish: creates %d, want 6", dst.creates)
	}

	dst.onUpsert = nil
	res, err := s.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if dst.creates != 10 || res.Updated != 2 || res.Created != 4 {
		t.Fatalf("resume: %+v with %d creates; want records 5-6 updated, 7-10 created, 10 creates in all", res, dst.creates)
	}
}

func TestCycleFailures(t *testing.T) {
	cases := map[string]struct {
		source       *pagedSource
		reject, fail []string
		wantErr      bool
		wantCursor   string
		wantReason   string
		wantRejected int
		wantCreates  int
	}{
		"a rejected record is skipped and the cycle completes": {
			source: &pagedSource{records: patients(5), pageSize: 2, failAt: -1}, reject: []string{"p1"},
			wantCursor: "5", wantRejected: 1, wantCreates: 4,
		},
		"a transient destination failure stops at the last complete page": {
			source: &pagedSource{records: patients(5), pageSize: 2, failAt: -1}, fail: []string{"p3"},
			wantErr: true, wantCursor: "2", wantReason: reasonDestination, wantCreates: 3,
		},
		"a source failure keeps the cursor": {
			source:  &pagedSource{records: patients(5), pageSize: 2, failAt: 4},
			wantErr: true, wantCursor: "4", wantReason: reasonSource, wantCreates: 4,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			st := openSQLite(t)
			dst := newMemoryDestination()
			for _, id := range tc.reject {
				dst.reject[id] = true
			}
			for _, id := range tc.fail {
				dst.failOn[id] = true
			}
			s := newSyncer(t, tc.source, dst, st, newKeyring(t, 1, 1))
			res, err := s.Cycle(context.Background())
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			cursor, _ := s.readCursor(context.Background())
			if cursor != tc.wantCursor {
				t.Errorf("cursor %q, want %q", cursor, tc.wantCursor)
			}
			if res.Rejected != tc.wantRejected || dst.creates != tc.wantCreates {
				t.Errorf("rejected %d creates %d, want %d and %d", res.Rejected, dst.creates, tc.wantRejected, tc.wantCreates)
			}
			if tc.wantReason != "" {
				if got := testutil.ToFloat64(s.Metrics.Failures.WithLabelValues(tc.wantReason)); got != 1 {
					t.Errorf("failures{reason=%s} = %v, want 1", tc.wantReason, got)
				}
			}
		})
	}
}

func TestCursorIsSealedAtRestAndSurvivesOnlyWithItsKeys(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	k := newKeyring(t, 1, 1)
	s := newSyncer(t, &pagedSource{records: patients(3), pageSize: 2, failAt: -1}, newMemoryDestination(), st, k)
	if err := s.commitCursor(ctx, "contact-4711"); err != nil {
		t.Fatal(err)
	}
	raw, err := st.Cursor(ctx, s.cursorName())
	if err != nil || strings.Contains(raw, "4711") {
		t.Fatalf("stored cursor %q (%v) shows the record ID", raw, err)
	}
	if got, err := s.readCursor(ctx); err != nil || got != "contact-4711" {
		t.Fatalf("readCursor = %q, %v", got, err)
	}
	// Rotated with the old version trimmed away: the cursor cannot be read, and the sync starts over.
	m, err := keyring.NewMaterial(nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Codec.Keyring = keyring.Rotate(k, k.Algorithm, m, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), 0)
	if got, err := s.readCursor(ctx); err != nil || got != "" {
		t.Fatalf("readCursor with other keys = %q, %v; want a fresh start", got, err)
	}
}

func TestCreateRetriedAfterAKillBeforeItsMappingIsNotDuplicated(t *testing.T) {
	ctx := context.Background()
	st := &crashingStore{Store: openSQLite(t), failAfter: 2}
	dst := newMemoryDestination()
	s := newSyncer(t, &pagedSource{records: patients(4), pageSize: 4, failAt: -1}, dst, st, newKeyring(t, 1, 1))
	// The first patient's mapping (one row per system) is written; the second patient reaches the
	// destination but never the mapping.
	if _, err := s.Cycle(ctx); err == nil {
		t.Fatal("the cycle survived its store failing")
	}
	if dst.creates != 2 {
		t.Fatalf("creates before the kill = %d, want 2", dst.creates)
	}
	st.failAfter = -1
	if _, err := s.Cycle(ctx); err != nil {
		t.Fatal(err)
	}
	if dst.creates != 4 || len(dst.byID) != 4 {
		t.Fatalf("after the restart: %d creates, %d records at the destination; want 4 and 4", dst.creates, len(dst.byID))
	}
	rec, err := mappingstore.Lookup(ctx, st, s.Codec, "cerbo", "p1")
	if err != nil || rec.IDs["quickbooks"] != "dest-2" {
		t.Fatalf("p1 maps to %v (%v), want the record created before the kill, dest-2", rec.IDs, err)
	}
}
