package connector

import (
	"context"
	"strings"
	"sync"
	"testing"
)

// memoryRefreshTokens is a RefreshTokenStore in memory, with the baseline rule of the runtime's.
type memoryRefreshTokens struct {
	mu              sync.Mutex
	mounted, newest string
	saves           int
}

func (m *memoryRefreshTokens) Load(_, mounted string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if mounted != m.mounted {
		return "", nil
	}
	return m.newest, nil
}

func (m *memoryRefreshTokens) Save(_, mounted, newest string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mounted, m.newest = mounted, newest
	m.saves++
	return nil
}

func TestRotatedRefreshTokenSurvivesARestart(t *testing.T) {
	fq := newFakeQuickBooks()
	fq.Tokens.Rotating = true
	srv := newFake(t, fq)
	tokens := &memoryRefreshTokens{}
	opts := testOptions(srv.Server)
	opts.RefreshTokens = tokens

	first := mustNew(t, SystemQuickBooks, srv.URL, quickBooksCreds, opts)
	if _, err := first.Changes(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if tokens.newest != "rt-1.3" || tokens.saves != 2 {
		t.Fatalf("saved %q after %d saves, want rt-1.3 after the two rotations", tokens.newest, tokens.saves)
	}

	// A restarted pod still has rt-1 mounted, which the vendor has retired.
	restarted := mustNew(t, SystemQuickBooks, srv.URL, quickBooksCreds, opts)
	if _, err := restarted.Changes(context.Background(), ""); err != nil {
		t.Fatalf("after a restart with the saved token: %v", err)
	}
	withoutStore := mustNew(t, SystemQuickBooks, srv.URL, quickBooksCreds, testOptions(srv.Server))
	_, err := withoutStore.Changes(context.Background(), "")
	if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("the mounted, retired token was accepted: %v", err)
	}
	if strings.Contains(err.Error(), "rt-") {
		t.Errorf("the error shows a refresh token: %v", err)
	}
	// A refused refresh token concerns the Integration, not a record: were it a rejection, the
	// runtime would skip every record as refused and report the cycle a success.
	if IsRejected(err) || !IsAuthorizationRefused(err) {
		t.Errorf("a refused refresh: IsRejected = %v, IsAuthorizationRefused = %v; want false, true (%v)", IsRejected(err), IsAuthorizationRefused(err), err)
	}
}
