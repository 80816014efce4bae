package integration

import (
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The CRD's DSN rules, against a real API server. A tenant admin writes the DSN, and the sync's
// driver (pgx) reads a password from the URL's user info, from the password parameter, and from
// the files passfile, servicefile and service name; sslmode is the first of its values.
func TestPostgresDSNRules(t *testing.T) {
	const (
		noPassword = "postgres.dsn must not contain a password"
		noParam    = "postgres.dsn must not carry a password or name a file to read one from"
		verified   = "postgres.dsn must set sslmode=verify-full or sslmode=verify-ca"
		notURL     = "postgres.dsn must be a valid URL"
		encoded    = "postgres.dsn parameter names must not be percent-encoded"
	)
	tests := map[string]struct {
		dsn     string
		wantMsg string // empty: accepted
	}{
		"plain":                 {dsn: "postgres://sync@db.acme.internal:5432/acme?sslmode=verify-full"},
		"postgresql, verify-ca": {dsn: "postgresql://sync@db.acme.internal/acme?sslmode=verify-ca&application_name=tenantwire"},
		"two hosts":             {dsn: "postgres://sync@db1.acme.internal:5432,db2.acme.internal:5432/acme?sslmode=verify-full&target_session_attrs=read-write"},
		"IPv6 host":             {dsn: "postgres://sync@[2001:db8::1]:5432/acme?sslmode=verify-full"},
		"root CA and timeout":   {dsn: "postgres://sync@db/acme?connect_timeout=5&sslmode=verify-full&sslrootcert=/etc/ssl/ca.pem"},
		"encoded option value":  {dsn: "postgres://sync@db/acme?sslmode=verify-full&options=-c%20search_path%3Dmapping"},
		"password-like value":   {dsn: "postgres://sync@db/acme?sslmode=verify-full&application_name=password"},

		"user info password":           {dsn: "postgres://sync:hunter2@db:5432/acme?sslmode=verify-full", wantMsg: noPassword},
		"password parameter":           {dsn: "postgres://sync@db:5432/acme?sslmode=verify-full&password=hunter2", wantMsg: noParam},
		"password parameter first":     {dsn: "postgres://sync@db:5432/acme?password=hunter2&sslmode=verify-full", wantMsg: noParam},
		"password in mixed case":       {dsn: "postgres://sync@db:5432/acme?sslmode=verify-full&PassWord=hunter2", wantMsg: noParam},
		"password in upper case":       {dsn: "postgres://sync@db:5432/acme?PASSWORD=hunter2&sslmode=verify-full", wantMsg: noParam},
		"percent-encoded password key": {dsn: "postgres://sync@db:5432/acme?sslmode=verify-full&pass%77ord=hunter2", wantMsg: encoded},
		"password key without value":   {dsn: "postgres://sync@db:5432/acme?sslmode=verify-full&password", wantMsg: noParam},
		"empty password":               {dsn: "postgres://sync@db:5432/acme?sslmode=verify-full&password=", wantMsg: noParam},
		"passfile":                     {dsn: "postgres://sync@db:5432/acme?sslmode=verify-full&passfile=/etc/tenantwire/credentials/source/token", wantMsg: noParam},
		"sslpassword":                  {dsn: "postgres://sync@db:5432/acme?sslmode=verify-full&sslpassword=hunter2", wantMsg: noParam},
		"service":                      {dsn: "postgres://sync@db:5432/acme?sslmode=verify-full&service=acme", wantMsg: noParam},
		"servicefile":                  {dsn: "postgres://sync@db:5432/acme?sslmode=verify-full&servicefile=/etc/tenantwire/pg_service.conf&service=acme", wantMsg: noParam},

		"no sslmode":                       {dsn: "postgres://sync@db:5432/acme", wantMsg: verified},
		"sslmode require":                  {dsn: "postgres://sync@db:5432/acme?sslmode=require", wantMsg: verified},
		"first sslmode is the one used":    {dsn: "postgres://sync@db:5432/acme?sslmode=disable&sslmode=verify-full", wantMsg: verified},
		"percent-encoded sslmode key":      {dsn: "postgres://sync@db:5432/acme?ssl%6Dode=disable&sslmode=verify-full", wantMsg: encoded},
		"sslmode twice, verified first":    {dsn: "postgres://sync@db:5432/acme?sslmode=verify-full&sslmode=disable", wantMsg: verified},
		"sslmode without value first":      {dsn: "postgres://sync@db:5432/acme?sslmode&sslmode=verify-full", wantMsg: verified},
		"sslmode only in the user name":    {dsn: "postgres://sync&sslmode=verify-full@db:5432/acme", wantMsg: verified},
		"sslmode only in the fragment":     {dsn: "postgres://sync@db:5432/acme?a=b#&sslmode=verify-full", wantMsg: verified},
		"sslmode only in another key":      {dsn: "postgres://sync@db:5432/acme?xsslmode=verify-full", wantMsg: verified},
		"sslmode in upper case is ignored": {dsn: "postgres://sync@db:5432/acme?SSLMODE=verify-full", wantMsg: verified},
		"not a URL":                        {dsn: "postgres://sync@db:port/acme?sslmode=verify-full", wantMsg: notURL},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := newIntegration("default", "dsn")
			withPostgres()(in)
			in.Spec.MappingStore.Postgres.DSN = tc.dsn
			err := k8s.Create(ctx, in, client.DryRunAll)
			switch {
			case tc.wantMsg == "" && err != nil:
				t.Errorf("DSN %q refused: %v", tc.dsn, err)
			case tc.wantMsg != "" && err == nil:
				t.Errorf("DSN %q accepted, want refused with %q", tc.dsn, tc.wantMsg)
			case tc.wantMsg != "" && (!apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.wantMsg)):
				t.Errorf("DSN %q: error = %v, want Invalid mentioning %q", tc.dsn, err, tc.wantMsg)
			}
			if err != nil && strings.Contains(tc.dsn, "hunter2") && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the refusal repeats the password: %v", err)
			}
		})
	}
}
