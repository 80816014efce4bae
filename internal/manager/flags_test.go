package manager

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func parseManagerFlags(args ...string) (Options, error) {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o Options
	o.BindFlags(fs)
	return o, fs.Parse(args)
}

// An allow-list entry that does not parse stops the manager at start-up, naming the entry.
func TestAllowedImageFlagRefusesBadEntries(t *testing.T) {
	tests := map[string]string{
		"registry.example.com/tenantwire:v1":   `"registry.example.com/tenantwire:v1" must not carry a tag`,
		"ghcr.io/acme,registry.example.com/Up": `"registry.example.com/Up" is not a valid image repository`,
		"registry..example.com":                `"registry..example.com" is not a valid registry host`,
	}
	for value, want := range tests {
		t.Run(value, func(t *testing.T) {
			_, err := parseManagerFlags("--allowed-sync-image-prefixes", value)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error = %v, want one containing %s", err, want)
			}
		})
	}
}

func TestAllowedImageFlagParses(t *testing.T) {
	o, err := parseManagerFlags("--allowed-sync-image-prefixes", " registry.example.com/tenantwire/ , localhost:5000,,alpine")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := o.AllowedImages.String(), "registry.example.com/tenantwire,localhost:5000,docker.io/library/alpine"; got != want {
		t.Errorf("allow-list = %s, want %s", got, want)
	}
}
