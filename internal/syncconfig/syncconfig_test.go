package syncconfig

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

// sampleConfig has every field set, with values YAML would read as something else if unquoted.
func sampleConfig() Config {
	return Config{
		Tenant: "acme-family-practice", Integration: "cerbo-to-quickbooks",
		Source: Endpoint{System: "cerbo", URL: "https://acme.md-hq.com/api/v1", CredentialsDir: CredentialsDir + "/source",
			AllowedHosts: []string{"*.md-hq.com"}},
		Destination: Endpoint{System: "quickbooks", URL: "https://quickbooks.api.intuit.com", CredentialsDir: CredentialsDir + "/destination",
			AllowedHosts: []string{"quickbooks.api.intuit.com", "127.0.0.1:8443", "[::1]:8443"}},
		Schedule:    Schedule{Interval: "5m0s", Cron: "*/5 * * * *"},
		TLS:         TLS{MinVersion: MinTLSVersion},
		KeyringFile: KeyringDir + "/keyring.json", StateDir: StateDir,
		Store: Store{DSN: "postgres://sync@db:5432/map?sslmode=verify-full", PasswordFile: "/var/run/pw",
			AllowedHosts: []string{"db"}},
		HealthAddr: ":8081", MetricsAddr: ":9090", WebhookAddr: ":8443",
	}
}

// TestMarshalMatchesSigsYAML: the rendering is byte for byte what sigs.k8s.io/yaml renders, for
// values YAML quotes (numbers, booleans, null, colons, comment marks, blanks, newlines, unicode)
// and for omitted fields.
func TestMarshalMatchesSigsYAML(t *testing.T) {
	tricky := []string{"", "1.2", "12", "true", "no", "null", "~", ": x", "a: b", "# c", " lead", "trail ", "two\nlines",
		"'quoted'", `"dq"`, "ümlaut", "- item", "{a: 1}", "0x1F", "1e3", "*/5 * * * *", "@every 5m",
		// Without a blank, what Marshal renders itself (appendBlock):
		":", "a:", ":a", "?", "?a", "-", "-a", "--", "---", "...", "a#b", "#a", "a'b", `a"b`, `a\b`, `'`, `"`,
		"*a", "&a", "!a", "|", ">", "%a", "@a", "`a", "[a", "a]", "a,b", "{", "}", "y", "Yes", "OFF", "<<",
		"a:b", "http://x:1/", ".5", ".inf", "+1", "-1", "0o17", "0b101", "1_000", "2001-12-14", "1:20", "1:20:30.5",
		"5m0s", "1h", "127.0.0.1:8443", "[::1]:8443", "*.md-hq.com", "a=b&c=%20"}
	for _, v := range tricky {
		c := sampleConfig()
		c.Tenant, c.Schedule.Cron, c.Store.DSN, c.WebhookAddr, c.Source.URL = v, v, v, v, v
		assertSameAsSigsYAML(t, c)
		c.Destination.AllowedHosts = []string{v, v + "x"}
		assertSameAsSigsYAML(t, c)
	}
	assertSameAsSigsYAML(t, Config{})
	assertSameAsSigsYAML(t, usualConfig())
	tw := usualConfig()
	tw.TokenWriter = &TokenWriter{Namespace: "tenant-acme", Secret: "x-rotated-token", Dir: TokenWriterDir}
	assertSameAsSigsYAML(t, tw)
}

// TestMarshalRendersTheUsualConfigurationItself: an Integration's usual configuration (no blank in
// any value) does not go through the YAML library, which allocated four times as much.
func TestMarshalRendersTheUsualConfigurationItself(t *testing.T) {
	j, _ := json.Marshal(usualConfig())
	var fields map[string]any
	if err := json.Unmarshal(j, &fields); err != nil {
		t.Fatal(err)
	}
	if _, ok := appendBlock(nil, fields, 0); !ok {
		t.Error("appendBlock refused the usual configuration")
	}
}

// usualConfig is what an Integration with an interval schedule and the default hosts renders.
func usualConfig() Config {
	c := sampleConfig()
	c.Schedule = Schedule{Interval: "5m0s"}
	c.Store = Store{}
	c.WebhookAddr = ""
	c.Fields = []string{"email", "name", "phone"}
	return c
}

func FuzzMarshalMatchesSigsYAML(f *testing.F) {
	f.Add("acme", "5m0s", "", "https://x.example/api")
	f.Add("1.2", "true", ": ", "null")
	f.Fuzz(func(t *testing.T, tenant, interval, dsn, url string) {
		for _, s := range []string{tenant, interval, dsn, url} {
			if !utf8.ValidString(s) {
				// The API server holds only UTF-8; JSON would replace the invalid bytes.
				t.Skip()
			}
		}
		c := sampleConfig()
		c.Tenant, c.Schedule.Interval, c.Store.DSN, c.Destination.URL = tenant, interval, dsn, url
		assertSameAsSigsYAML(t, c)
	})
}

func assertSameAsSigsYAML(t *testing.T, c Config) {
	t.Helper()
	want, wantErr := yaml.Marshal(c)
	if wantErr != nil {
		// sigs.k8s.io/yaml refuses control characters (its YAML parser reads the JSON it made), so
		// no rendered configuration holds one; Marshal may render them escaped.
		return
	}
	got, err := Marshal(c)
	if err != nil {
		t.Fatalf("Marshal(%+v): %v; sigs.k8s.io/yaml renders it", c, err)
	}
	if got != string(want) {
		t.Errorf("Marshal(%+v) =\n%s\nwant (sigs.k8s.io/yaml):\n%s", c, got, want)
	}
	back, err := Unmarshal([]byte(got))
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Errorf("Unmarshal(Marshal(c)) = %+v, %v; want %+v", back, err, c)
	}
}

// BenchmarkMarshal compares Marshal with sigs.k8s.io/yaml.Marshal (the baseline) on one
// Integration's usual configuration: go test ./internal/syncconfig -run '^$' -bench Marshal -benchmem
func BenchmarkMarshal(b *testing.B) {
	c := usualConfig()
	b.Run("sigs.k8s.io/yaml", func(b *testing.B) {
		for b.Loop() {
			if _, err := yaml.Marshal(c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Marshal", func(b *testing.B) {
		for b.Loop() {
			if _, err := Marshal(c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
