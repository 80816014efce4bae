package syncrun

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tenantwire/tenantwire/internal/hostpolicy"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/store"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
)

// LoadConfig reads and checks the rendered sync.yaml.
func LoadConfig(path string) (syncconfig.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return syncconfig.Config{}, fmt.Errorf("reading the sync configuration: %w", err)
	}
	cfg, err := syncconfig.Unmarshal(data)
	if err != nil {
		return syncconfig.Config{}, fmt.Errorf("parsing %s: %w", path, err)
	}
	var missing []string
	for field, v := range map[string]string{
		"tenant": cfg.Tenant, "integration": cfg.Integration, "stateDir": cfg.StateDir,
		"source.system": cfg.Source.System, "source.url": cfg.Source.URL,
		"destination.system": cfg.Destination.System, "destination.url": cfg.Destination.URL,
	} {
		if v == "" {
			missing = append(missing, field)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return syncconfig.Config{}, fmt.Errorf("%s: missing %s", path, strings.Join(missing, ", "))
	}
	// The allowlist is what keeps credentials on the vendors' hosts: a configuration without one
	// (rendered by an operator that predates it, or edited) runs nothing rather than anything.
	// A webhook source is pushed to and dials nothing.
	for _, side := range []struct {
		name string
		ep   syncconfig.Endpoint
	}{{"source", cfg.Source}, {"destination", cfg.Destination}} {
		if len(side.ep.AllowedHosts) == 0 && (side.name != "source" || side.ep.System != "webhook") {
			return syncconfig.Config{}, fmt.Errorf("%s: %s.allowedHosts is empty: the runtime sends credentials only to hosts the platform lists", path, side.name)
		}
	}
	if cfg.Store.DSN != "" {
		hosts, err := hostpolicy.ParseList(cfg.Store.AllowedHosts)
		if err != nil {
			return syncconfig.Config{}, fmt.Errorf("%s: store.allowedHosts: %w", path, err)
		}
		if err := hosts.CheckPostgresDSN(cfg.Store.DSN); err != nil {
			return syncconfig.Config{}, fmt.Errorf("%s: store.dsn: %w", path, err)
		}
	}
	if cfg.Source.System == cfg.Destination.System {
		// The mapping keys a patient's IDs by system name: one name for both sides would merge them.
		return syncconfig.Config{}, fmt.Errorf("%s: source and destination are both %q", path, cfg.Source.System)
	}
	return cfg, nil
}

// LoadKeyring reads the tenant's keyring. The runtime refuses to run without one: the mapping is
// the only state that makes upserts idempotent, and it cannot be kept without keys.
func LoadKeyring(path string) (*keyring.Keyring, error) {
	if path == "" {
		return nil, errors.New("no keyring is mounted: the Integration must be a consumer of its tenant's KeyPolicy " +
			"(see the KeyPolicy's spec.consumers) so that the patient-ID mapping can be encrypted")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the keyring: %w", err)
	}
	k, err := keyring.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("parsing the keyring: %w", err)
	}
	return k, nil
}

// StoreDSN is the DSN the store opens: the configured one with its password file's content as
// the password, or SQLite in the state directory. The result may hold a password: never log it.
func StoreDSN(cfg syncconfig.Config) (string, error) {
	if cfg.Store.DSN == "" {
		return "sqlite://" + filepath.Join(cfg.StateDir, syncconfig.SQLiteFile), nil
	}
	if cfg.Store.PasswordFile == "" {
		return cfg.Store.DSN, nil
	}
	pw, err := os.ReadFile(cfg.Store.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("reading the mapping store's password file: %w", err)
	}
	u, err := url.Parse(cfg.Store.DSN)
	if err != nil || u.User == nil {
		return "", errors.New("the mapping store DSN must be a URL naming a user when a password file is given")
	}
	u.User = url.UserPassword(u.User.Username(), strings.TrimRight(string(pw), "\r\n"))
	return u.String(), nil
}

// OpenStore opens the configured mapping store.
func OpenStore(ctx context.Context, cfg syncconfig.Config) (store.Store, error) {
	dsn, err := StoreDSN(cfg)
	if err != nil {
		return nil, err
	}
	return store.Open(ctx, dsn)
}
