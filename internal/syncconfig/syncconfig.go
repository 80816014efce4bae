// Package syncconfig is the contract between the operator and the sync runtime: the non-secret
// configuration the operator renders into each Integration's ConfigMap and the runtime reads.
// Secrets never appear here, only the paths where they are mounted.
package syncconfig

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/robfig/cron/v3"
	yamlv2 "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"
)

// FileName is the key of the configuration in the ConfigMap and its file name in the pod.
const FileName = "sync.yaml"

// Mount paths inside the sync container.
const (
	ConfigDir      = "/etc/tenantwire"
	CredentialsDir = "/var/run/tenantwire/credentials"
	KeyringDir     = "/var/run/tenantwire/keyring"
	StateDir       = "/var/lib/tenantwire"
	// TokenWriterDir holds the projected ServiceAccount token (TokenWriterTokenFile) and the
	// cluster's CA bundle (TokenWriterCAFile) of an Integration's token writer.
	TokenWriterDir = "/var/run/tenantwire/token-writer"
)

// Files in TokenWriterDir.
const (
	TokenWriterTokenFile = "token"
	TokenWriterCAFile    = "ca.crt"
)

// MinTLSVersion is the lowest TLS version any sync client negotiates.
const MinTLSVersion = "1.2"

// Config is the rendered configuration of one Integration.
type Config struct {
	Tenant      string   `json:"tenant"`
	Integration string   `json:"integration"`
	Source      Endpoint `json:"source"`
	Destination Endpoint `json:"destination"`
	Schedule    Schedule `json:"schedule"`
	// Fields are the canonical fields (record.Field names) the practice authorized to flow from
	// the source to the destination, as the operator resolved them: the runtime drops every other
	// field before the destination adapter sees a record. The operator always renders them; a
	// configuration without any is refused by the runtime rather than read as "everything".
	Fields []string `json:"fields,omitempty"`
	TLS    TLS      `json:"tls"`
	// KeyringFile is the tenant's keyring (read-only), present when the Integration is a consumer
	// of its tenant's KeyPolicy.
	KeyringFile string `json:"keyringFile,omitempty"`
	// StateDir holds the runtime's cursor and the encrypted patient-ID mapping store.
	StateDir string `json:"stateDir"`
	// Store locates the patient-ID mapping store; empty means SQLite in StateDir.
	Store Store `json:"store,omitempty"`
	// HealthAddr serves /healthz and /readyz; MetricsAddr serves /metrics.
	HealthAddr  string `json:"healthAddr"`
	MetricsAddr string `json:"metricsAddr"`
	// WebhookAddr serves pushed deliveries over TLS when the source is a webhook; its certificate
	// and key are the source credentials' tls.crt and tls.key.
	WebhookAddr string `json:"webhookAddr,omitempty"`
	// Resync is the Integration's spec.resync.request: when it differs from the request the
	// runtime last started, the next cycle starts from the beginning of the source's changes.
	Resync string `json:"resync,omitempty"`
	// TokenWriter is where the runtime writes the refresh tokens a vendor rotates, present when a
	// side's system rotates them (QuickBooks, GoHighLevel).
	TokenWriter *TokenWriter `json:"tokenWriter,omitempty"`
	// Replay is the Integration's spec.replay.request: when it differs from the request the
	// runtime last completed, the next cycle replays the records the destination rejected.
	Replay string `json:"replay,omitempty"`
}

// TokenWriter names the one Secret the runtime may patch, and the projected token it patches with.
// The Secret's keys are RotatedTokenKey and RefusedAtKey of each rotating side.
type TokenWriter struct {
	Namespace string `json:"namespace"`
	Secret    string `json:"secret"`
	// Dir holds the token and the CA bundle (TokenWriterTokenFile, TokenWriterCAFile).
	Dir string `json:"dir"`
	// Sides are the sides whose system rotates refresh tokens: "source", "destination".
	Sides []string `json:"sides"`
}

// RotatedTokenKey is the key of the rotated-token Secret holding one side's newest refresh token.
func RotatedTokenKey(side string) string { return side + ".refresh_token" }

// RefusedAtKey is the key of the rotated-token Secret holding when the vendor last refused one
// side's refresh token (RFC 3339).
func RefusedAtKey(side string) string { return side + ".refused_at" }

// Endpoint is one side of the sync.
type Endpoint struct {
	System string `json:"system"`
	URL    string `json:"url"`
	// CredentialsDir holds one file per credential property, mounted read-only from a Secret.
	CredentialsDir string `json:"credentialsDir"`
	// AllowedHosts are the host patterns (hostpolicy.Pattern) the runtime may send this system's
	// requests, token refreshes and redirects to; it dials no other host. Empty for a system the
	// runtime never dials (a webhook source).
	AllowedHosts []string `json:"allowedHosts,omitempty"`
}

// Store locates the patient-ID mapping store and the file holding its password, if any.
type Store struct {
	// DSN is sqlite:///path/to/file.db or a postgres:// URL without a password.
	DSN string `json:"dsn,omitempty"`
	// PasswordFile holds the database password, mounted read-only from a Secret.
	PasswordFile string `json:"passwordFile,omitempty"`
	// AllowedHosts are the host patterns the DSN's host must match before the runtime connects.
	AllowedHosts []string `json:"allowedHosts,omitempty"`
}

// SQLiteFile is the mapping store's file in the state directory when no DSN is given.
const SQLiteFile = "mapping.db"

// Schedule is either an interval or a cron expression.
type Schedule struct {
	Interval string `json:"interval,omitempty"`
	Cron     string `json:"cron,omitempty"`
}

// ParseCron parses a schedule's cron expression as the sync runtime runs it: five fields, in UTC.
// The operator checks an Integration's schedule with it too, so what it accepts is what the sync
// pod can run. A schedule with no time after now (the 30th of February) is refused: the parser's
// Next gives the zero time for it, and a runtime waiting until then would run cycles back to back.
func ParseCron(expr string, now time.Time) (cron.Schedule, error) {
	s, err := cron.ParseStandard(expr)
	if err != nil {
		return nil, err
	}
	if s.Next(now.UTC()).IsZero() {
		return nil, errors.New("it never fires: no such date in the next five years")
	}
	return s, nil
}

// TLS settings every client uses.
type TLS struct {
	MinVersion string `json:"minVersion"`
}

// Marshal renders the configuration as YAML; equal configs give identical bytes. The bytes are
// those of sigs.k8s.io/yaml.Marshal, which rendered every ConfigMap so far (their digest is on the
// sync pods' template, so other bytes would roll every sync pod). The operator renders each
// Integration's configuration on every reconcile, so the usual configuration is written here
// directly (appendBlock: 7.6 KB allocated against 33 KB, BenchmarkMarshal); anything else goes
// through go.yaml.in/yaml/v2, which sigs.k8s.io/yaml renders with, from the same values:
// encoding/json reads the JSON into them, since every field is a string or a list of strings.
func Marshal(c Config) (string, error) {
	j, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	var fields map[string]any
	if err := json.Unmarshal(j, &fields); err != nil {
		return "", err
	}
	if b, ok := appendBlock(make([]byte, 0, 2*len(j)), fields, 0); ok {
		return string(b), nil
	}
	b, err := yamlv2.Marshal(fields)
	return string(b), err
}

// Unmarshal parses a rendered configuration.
func Unmarshal(data []byte) (Config, error) {
	var c Config
	err := yaml.UnmarshalStrict(data, &c)
	return c, err
}
