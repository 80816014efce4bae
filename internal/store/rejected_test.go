package store

import (
	"context"
	"testing"
	"time"
)

func init() {
	conformance["rejected rows count attempts and keep their first sighting"] = func(t *testing.T, _ string, s Store) {
		ctx := context.Background()
		first, later := time.Unix(1_700_000_000, 0).UTC(), time.Unix(1_700_000_600, 0).UTC()
		r := Rejected{Integration: "a", Token: tok(1), Value: val(1, "sealed-1"), Code: "6080", Field: "DisplayName", LastSeen: first}
		if err := s.PutRejected(ctx, r); err != nil {
			t.Fatal(err)
		}
		r.Value, r.Code, r.Field, r.LastSeen = val(1, "sealed-2"), "2010", "", later
		if err := s.PutRejected(ctx, r); err != nil {
			t.Fatal(err)
		}
		// Another integration's row under the same token is its own.
		if err := s.PutRejected(ctx, Rejected{Integration: "b", Token: tok(1), Value: val(1, "x"), LastSeen: first}); err != nil {
			t.Fatal(err)
		}
		got, err := s.ListRejected(ctx, "a", nil, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := Rejected{Integration: "a", Token: tok(1), Value: val(1, "sealed-2"), Code: "2010", Field: "", FirstSeen: first, LastSeen: later, Attempts: 2}
		if len(got) != 1 || !equalRejected(got[0], want) {
			t.Fatalf("ListRejected = %+v, want [%+v]", got, want)
		}
		if n, err := s.CountRejected(ctx, "a"); err != nil || n != 1 {
			t.Errorf("CountRejected(a) = %d, %v, want 1", n, err)
		}
		if counts, err := s.CountRejectedByVersion(ctx); err != nil || counts[1] != 2 {
			t.Errorf("CountRejectedByVersion = %v, %v, want 2 at version 1", counts, err)
		}
		if err := s.DeleteRejected(ctx, "a", tok(1)); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.CountRejected(ctx, "a"); n != 0 {
			t.Errorf("CountRejected(a) after delete = %d, want 0", n)
		}
		if n, _ := s.CountRejected(ctx, "b"); n != 1 {
			t.Errorf("deleting a's row removed b's: CountRejected(b) = %d", n)
		}
	}
	conformance["rejected rows page by token and move onto another version"] = func(t *testing.T, _ string, s Store) {
		ctx := context.Background()
		now := time.Unix(1_700_000_000, 0).UTC()
		for i := 1; i <= 3; i++ {
			if err := s.PutRejected(ctx, Rejected{Integration: "a", Token: tok(i), Value: val(1, "v1"), LastSeen: now}); err != nil {
				t.Fatal(err)
			}
		}
		page, err := s.ListRejected(ctx, "a", tok(1), 1)
		if err != nil || len(page) != 1 || string(page[0].Token) != string(tok(2)) {
			t.Fatalf("ListRejected after tok(1), limit 1 = %+v, %v; want tok(2)", page, err)
		}
		// Row 1 moves onto a free token; row 2 finds a newer row under its new token and is dropped.
		if err := s.PutRejected(ctx, Rejected{Integration: "a", Token: tok(20), Value: val(2, "newer"), LastSeen: now}); err != nil {
			t.Fatal(err)
		}
		if err := s.MoveRejected(ctx, "a", tok(1), tok(10), val(2, "moved")); err != nil {
			t.Fatal(err)
		}
		if err := s.MoveRejected(ctx, "a", tok(2), tok(20), val(2, "stale")); err != nil {
			t.Fatal(err)
		}
		old, err := s.ListRejectedByVersion(ctx, 1, 10)
		if err != nil || len(old) != 1 || string(old[0].Token) != string(tok(3)) {
			t.Errorf("version 1 rows after the moves = %+v, %v; want tok(3) only", old, err)
		}
		moved, err := s.ListRejectedByVersion(ctx, 2, 10)
		if err != nil || len(moved) != 2 {
			t.Fatalf("version 2 rows = %+v, %v; want 2", moved, err)
		}
		for _, r := range moved {
			want := map[string]string{string(tok(10)): "moved", string(tok(20)): "newer"}[string(r.Token)]
			if string(r.Data) != want {
				t.Errorf("row %q holds %q, want %q", r.Token, r.Data, want)
			}
		}
	}
}

func equalRejected(a, b Rejected) bool {
	return a.Integration == b.Integration && string(a.Token) == string(b.Token) && a.Version == b.Version &&
		string(a.Data) == string(b.Data) && a.Code == b.Code && a.Field == b.Field &&
		a.FirstSeen.Equal(b.FirstSeen) && a.LastSeen.Equal(b.LastSeen) && a.Attempts == b.Attempts
}
