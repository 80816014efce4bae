package connector

import (
	"os"
	"path/filepath"
	"testing"
)

// TestReadCredentialsSecretVolume lays out a directory as the kubelet mounts a Secret: the files
// are symlinks into a timestamped directory behind ..data.
func TestReadCredentialsSecretVolume(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "..2026_01_01_00_00_00.000")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string]string{"username": "u\n", "api_key": "k"} {
		if err := os.WriteFile(filepath.Join(data, name), []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Base(data), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	creds, err := ReadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(creds) != 2 || creds.value("username") != "u" || creds.value("api_key") != "k" {
		t.Errorf("ReadCredentials = %v, want username and api_key only", creds)
	}
	if _, err := ReadCredentials(filepath.Join(dir, "absent")); err == nil {
		t.Error("ReadCredentials of a missing directory succeeded")
	}
}
