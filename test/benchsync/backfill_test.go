package main

import (
	"context"
	"io"
	"testing"

	"github.com/tenantwire/tenantwire/internal/connector"
)

// TestBackfillMovesEveryPatientOnceIntoEachDestination runs the backfill scenario small and with
// the limits heavily scaled, so it cannot rot: every patient arrives once at every destination,
// none is lost and none duplicated. Timing is not asserted; make bench-sync measures it.
func TestBackfillMovesEveryPatientOnceIntoEachDestination(t *testing.T) {
	cfg := backfillConfig{Patients: 200, Scale: 600,
		Destinations: []string{connector.SystemQuickBooks, connector.SystemZoho, connector.SystemGoHighLevel}}
	figs, err := runBackfill(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(figs) != len(cfg.Destinations) {
		t.Fatalf("%d figures for %d destinations", len(figs), len(cfg.Destinations))
	}
	for _, f := range figs {
		t.Log(f.line())
		if f.Duplicates != 0 || f.Lost != 0 || f.Sent < f.MinRequests {
			t.Errorf("%s: %d duplicates, %d lost, %d requests for a minimum of %d", f.Destination, f.Duplicates, f.Lost, f.Sent, f.MinRequests)
		}
	}
}

func TestFloorIsTheSlowestPublishedRate(t *testing.T) {
	qb := mustBackfillDestination(t, connector.SystemQuickBooks, 10000, 1)
	// 334 batch requests at 40 a minute: 8 minutes 21 seconds.
	if qb.minRequests != 334 || qb.floor.Round(1e9).String() != "8m21s" {
		t.Errorf("quickbooks: %d requests, floor %s; want 334 and 8m21s", qb.minRequests, qb.floor)
	}
	ghl := mustBackfillDestination(t, connector.SystemGoHighLevel, 10000, 4)
	// 10,000 upserts at 100 per 10s scaled by 4: 250 seconds.
	if ghl.minRequests != 10000 || ghl.floor.String() != "4m10s" {
		t.Errorf("gohighlevel: %d requests, floor %s; want 10000 and 4m10s", ghl.minRequests, ghl.floor)
	}
	if zoho := mustBackfillDestination(t, connector.SystemZoho, 10000, 4); zoho.minRequests != 100 || zoho.floor != 0 {
		t.Errorf("zoho: %d requests, floor %s; want 100 and none (no published rate)", zoho.minRequests, zoho.floor)
	}
}

func mustBackfillDestination(t *testing.T, system string, n int, scale float64) *backfillDestination {
	t.Helper()
	d, err := newBackfillDestination(system, n, scale)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
