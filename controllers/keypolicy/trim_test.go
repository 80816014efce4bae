package keypolicy

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/keyring"
)

// reporting is a consumer Integration whose status reports it rewrapped to version (0: reports none).
func reporting(name string, version int32) twv1.Integration {
	in := twv1.Integration{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if version > 0 {
		in.Status.Keyring = &twv1.IntegrationKeyringStatus{RewrappedVersion: version}
	}
	return in
}

func TestDecideTrim(t *testing.T) {
	wide := untrimmedKeyring(4)
	active := wide.Active
	tests := map[string]struct {
		consumers   []twv1.Integration
		retain      int
		wantVersion string
		wantLagging int
	}{
		"within retention: nothing to decide": {retain: 3, wantVersion: "[1 2 3 4]"},
		"no consumers: trimmed":               {retain: 1, wantVersion: "[3 4]"},
		"every consumer reports the active version: trimmed": {retain: 1, wantVersion: "[3 4]",
			consumers: []twv1.Integration{reporting("a", active), reporting("b", active)}},
		"one consumer still on the previous version": {retain: 1, wantVersion: "[1 2 3 4]", wantLagging: 1,
			consumers: []twv1.Integration{reporting("a", active), reporting("b", active-1)}},
		"consumer reporting no version (paused, stopped, not started, rolling) has not rewrapped": {retain: 1,
			wantVersion: "[1 2 3 4]", wantLagging: 1, consumers: []twv1.Integration{reporting("a", 0)}},
		"consumer reporting a version the keyring has not reached (an older keyring restored)": {retain: 1,
			wantVersion: "[1 2 3 4]", wantLagging: 1, consumers: []twv1.Integration{reporting("a", active+1)}},
		"two lagging consumers": {retain: 2, wantVersion: "[1 2 3 4]", wantLagging: 2,
			consumers: []twv1.Integration{reporting("a", 0), reporting("b", 1), reporting("c", active)}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := decideTrim(wide, tc.retain, tc.consumers)
			if got := fmt.Sprint(d.keyring.VersionNumbers()); got != tc.wantVersion {
				t.Errorf("versions %s, want %s", got, tc.wantVersion)
			}
			if d.lagging != tc.wantLagging {
				t.Errorf("lagging %d, want %d", d.lagging, tc.wantLagging)
			}
			wantHeld := 0
			if tc.wantLagging > 0 {
				wantHeld = len(wide.Versions) - (tc.retain + 1)
			}
			if d.held != wantHeld {
				t.Errorf("held %d, want %d", d.held, wantHeld)
			}
			if d.keyring.Active != wide.Active {
				t.Errorf("active version moved to %d", d.keyring.Active)
			}
		})
	}
}

// untrimmedKeyring has versions 1..n, none dropped.
func untrimmedKeyring(n int) *keyring.Keyring {
	var k *keyring.Keyring
	for i := range n {
		m := keyring.Material{EncryptionKey: bytes.Repeat([]byte{byte(i)}, 32), HMACKey: bytes.Repeat([]byte{byte(i + 100)}, 32)}
		k = keyring.AddVersion(k, "AES-256-GCM", m, t0.Add(time.Duration(i)*time.Hour))
	}
	return k
}
