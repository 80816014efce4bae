package syncrun

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/syncconfig"
)

func TestStoreDSN(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte("p@ss:w/rd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		store   syncconfig.Store
		want    string
		wantErr string
	}{
		"SQLite in the state directory": {want: "sqlite://" + filepath.Join(dir, "state", syncconfig.SQLiteFile)},
		"DSN as given without a password file": {
			store: syncconfig.Store{DSN: "postgres://sync@db:5432/acme?sslmode=verify-full"},
			want:  "postgres://sync@db:5432/acme?sslmode=verify-full",
		},
		"password from its file, escaped, newline dropped": {
			store: syncconfig.Store{DSN: "postgres://sync@db:5432/acme?sslmode=verify-full", PasswordFile: pwFile},
			want:  "postgres://sync:p%40ss%3Aw%2Frd@db:5432/acme?sslmode=verify-full",
		},
		"password file without a user": {
			store:   syncconfig.Store{DSN: "postgres://db:5432/acme", PasswordFile: pwFile},
			wantErr: "must be a URL naming a user",
		},
		"missing password file": {
			store:   syncconfig.Store{DSN: "postgres://sync@db/acme", PasswordFile: filepath.Join(dir, "absent")},
			wantErr: "reading the mapping store's password file",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := StoreDSN(syncconfig.Config{StateDir: filepath.Join(dir, "state"), Store: tc.store})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "p@ss") {
					t.Fatalf("err = %v, want one mentioning %q and no password", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("StoreDSN = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestParseSchedule(t *testing.T) {
	last := time.Date(2026, 11, 25, 10, 7, 30, 0, time.UTC)
	tests := map[string]struct {
		schedule syncconfig.Schedule
		want     time.Time
		wantErr  bool
	}{
		"interval":       {schedule: syncconfig.Schedule{Interval: "5m0s"}, want: last.Add(5 * time.Minute)},
		"cron in UTC":    {schedule: syncconfig.Schedule{Cron: "*/15 * * * *"}, want: time.Date(2026, 11, 25, 10, 15, 0, 0, time.UTC)},
		"both":           {schedule: syncconfig.Schedule{Interval: "5m", Cron: "* * * * *"}, wantErr: true},
		"neither":        {wantErr: true},
		"bad interval":   {schedule: syncconfig.Schedule{Interval: "-1m"}, wantErr: true},
		"six-field cron": {schedule: syncconfig.Schedule{Cron: "0 */15 * * * *"}, wantErr: true},
		"never fires":    {schedule: syncconfig.Schedule{Cron: "0 0 30 2 *"}, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			next, err := ParseSchedule(tc.schedule, last)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && !next(last).Equal(tc.want) {
				t.Fatalf("next = %v, want %v", next(last), tc.want)
			}
		})
	}
}
