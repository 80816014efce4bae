package imagepolicy

import (
	"strings"
	"testing"
)

func TestAllows(t *testing.T) {
	tests := map[string]struct {
		allowed []string
		image   string
		want    bool
	}{
		// The two bypasses of a string prefix: a sibling repository and a look-alike registry.
		"sibling repository sharing the prefix":  {allowed: []string{"registry.example.com/tenantwire"}, image: "registry.example.com/tenantwire-debug:1"},
		"registry as the prefix of another host": {allowed: []string{"registry.example.com"}, image: "registry.example.com.evil.io/x:1"},
		"registry with a port is another host":   {allowed: []string{"registry.example.com"}, image: "registry.example.com:5000/x"},

		"the repository itself":                 {allowed: []string{"registry.example.com/tenantwire"}, image: "registry.example.com/tenantwire:v2", want: true},
		"a repository under it":                 {allowed: []string{"registry.example.com/tenantwire"}, image: "registry.example.com/tenantwire/sync:v2", want: true},
		"a trailing slash in the entry":         {allowed: []string{"registry.example.com/tenantwire/"}, image: "registry.example.com/tenantwire/sync", want: true},
		"by digest":                             {allowed: []string{"registry.example.com/tenantwire"}, image: "registry.example.com/tenantwire/sync@sha256:" + strings.Repeat("ab", 32), want: true},
		"tag and digest":                        {allowed: []string{"registry.example.com/tenantwire"}, image: "registry.example.com/tenantwire/sync:v2@sha256:" + strings.Repeat("ab", 32), want: true},
		"a parent of the entry":                 {allowed: []string{"registry.example.com/tenantwire/sync"}, image: "registry.example.com/tenantwire:v2"},
		"the same path on another registry":     {allowed: []string{"registry.example.com/tenantwire"}, image: "ghcr.io/tenantwire/sync:v2"},
		"a whole registry":                      {allowed: []string{"registry.example.com"}, image: "registry.example.com/any/repo:1", want: true},
		"registry host in another case":         {allowed: []string{"registry.example.com"}, image: "Registry.Example.com/any/repo:1", want: true},
		"localhost registry with a port":        {allowed: []string{"localhost:5000/x"}, image: "localhost:5000/x/sync:dev", want: true},
		"localhost repository, not its sibling": {allowed: []string{"localhost:5000/x"}, image: "localhost:5000/xy:dev"},
		"localhost without the port":            {allowed: []string{"localhost:5000/x"}, image: "localhost/x:dev"},
		"whole localhost registry":              {allowed: []string{"localhost:5000"}, image: "localhost:5000/anything", want: true},
		"Docker Hub official image by short name": {
			allowed: []string{"docker.io/library/alpine"}, image: "alpine:3.20", want: true,
		},
		"Docker Hub short entry, full image": {allowed: []string{"alpine"}, image: "docker.io/library/alpine:3.20", want: true},
		"Docker Hub legacy host":             {allowed: []string{"index.docker.io/acme/sync"}, image: "acme/sync:1", want: true},
		"Docker Hub user is not library":     {allowed: []string{"docker.io/library/alpine"}, image: "attacker/alpine:1"},
		// An entry is normalised like an image: one component on Docker Hub is an official image.
		"Docker Hub single component is official": {allowed: []string{"docker.io/acme"}, image: "acme/sync:1"},
		"second entry matches":                    {allowed: []string{"ghcr.io/acme", "registry.example.com/tenantwire"}, image: "registry.example.com/tenantwire/sync", want: true},
		"empty allow-list":                        {image: "registry.example.com/tenantwire/sync"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			list, err := ParseAllowList(tc.allowed)
			if err != nil {
				t.Fatal(err)
			}
			got, err := list.Allows(tc.image)
			if err != nil {
				t.Fatalf("Allows(%q): %v", tc.image, err)
			}
			if got != tc.want {
				t.Errorf("allow-list %q: Allows(%q) = %v, want %v", tc.allowed, tc.image, got, tc.want)
			}
		})
	}
}

func TestUnparsableImageIsNotAllowed(t *testing.T) {
	list, err := ParseAllowList([]string{"registry.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, image := range []string{"registry.example.com/Upper/case", "registry.example.com/x:tag:tag", " registry.example.com/x", "registry.example.com//x"} {
		if ok, err := list.Allows(image); ok || err == nil {
			t.Errorf("Allows(%q) = %v, %v; want false and an error", image, ok, err)
		}
	}
}

func TestParseEntryRefusesWhatIsNotARepository(t *testing.T) {
	tests := map[string]string{
		"registry.example.com/tenantwire:v1":                                 "must not carry a tag",
		"registry.example.com/tenantwire@sha256:" + strings.Repeat("ab", 32): "must not carry a digest",
		"registry.example.com/Tenantwire":                                    "not a valid image repository",
		"registry..example.com":                                              "not a valid registry host",
		"localhost:port":                                                     "not a valid registry host",
		" / ":                                                                "empty allowed image entry",
	}
	for entry, want := range tests {
		t.Run(entry, func(t *testing.T) {
			_, err := ParseEntry(entry)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("ParseEntry(%q) = %v, want an error containing %q", entry, err, want)
			}
		})
	}
}

func TestParseEntryNormalises(t *testing.T) {
	tests := map[string]string{
		"alpine":                        "docker.io/library/alpine",
		"index.docker.io/acme/sync":     "docker.io/acme/sync",
		"docker.io/acme":                "docker.io/library/acme",
		"docker.io":                     "docker.io",
		"localhost:5000":                "localhost:5000",
		"localhost":                     "localhost",
		"registry.example.com/a/b/":     "registry.example.com/a/b",
		"  registry.example.com/a/b  ":  "registry.example.com/a/b",
		"registry.example.com:8443/a/b": "registry.example.com:8443/a/b",
	}
	for entry, want := range tests {
		e, err := ParseEntry(entry)
		if err != nil {
			t.Errorf("ParseEntry(%q): %v", entry, err)
			continue
		}
		if e.String() != want {
			t.Errorf("ParseEntry(%q) = %s, want %s", entry, e, want)
		}
	}
}
