package connector

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ReadCredentials reads a mounted credentials directory: one file per property. Kubernetes' own
// entries of a Secret volume (..data and the timestamped directory) start with ".." and are
// skipped; the property files are symlinks into them, which reading follows.
func ReadCredentials(dir string) (Credentials, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("connector: reading credentials directory: %w", err)
	}
	creds := Credentials{}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "..") {
			continue
		}
		path := filepath.Join(dir, name)
		info, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("connector: credentials file %q: %w", name, err)
		}
		if info.IsDir() {
			continue
		}
		value, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("connector: credentials file %q: %w", name, err)
		}
		creds[name] = value
	}
	return creds, nil
}

// value returns a credential with surrounding white space removed: values pasted into a vault
// often end with a newline that no API accepts.
func (c Credentials) value(name string) string {
	return string(bytes.TrimSpace(c[name]))
}

// require checks that every named file is present and not empty. The error names the missing
// files, never a value.
func (c Credentials) require(system string, names ...string) error {
	var missing []string
	for _, n := range names {
		if c.value(n) == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return fmt.Errorf("connector: %s: missing credential file(s) %s: add them to the Integration's credentials.properties",
		system, strings.Join(missing, ", "))
}
