// Package imagepolicy decides which container images an Integration may run besides the operator's
// own. Images and allow-list entries are parsed as image references and compared by registry and by
// repository path at "/" boundaries, never as strings: "registry.example.com/tenantwire" must not
// admit "registry.example.com/tenantwire-debug", nor "registry.example.com" admit
// "registry.example.com.evil.io/x".
package imagepolicy

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// Entry allows every image of one registry whose repository path is Path or lies under it.
type Entry struct {
	// Registry is the normalised registry host (and port), for example docker.io or localhost:5000.
	Registry string
	// Path is the repository path under the registry; empty allows the whole registry.
	Path string
}

func (e Entry) String() string {
	if e.Path == "" {
		return e.Registry
	}
	return e.Registry + "/" + e.Path
}

// AllowList is a parsed --allowed-sync-image-prefixes.
type AllowList []Entry

// ParseEntry parses one allow-list entry: a registry with an optional repository path
// ("registry.example.com", "localhost:5000", "ghcr.io/acme/sync", "ubuntu" for
// docker.io/library/ubuntu), normalised as container runtimes do. A trailing "/" is ignored. An
// entry cannot carry a tag or digest: it names repositories, not images.
func ParseEntry(s string) (Entry, error) {
	entry := strings.TrimSuffix(strings.TrimSpace(s), "/")
	if entry == "" {
		return Entry{}, fmt.Errorf("empty allowed image entry")
	}
	if isRegistryOnly(entry) {
		// The host is checked by parsing a repository under it; only the (normalised) host is kept.
		named, err := reference.ParseNormalizedNamed(entry + "/probe")
		if err != nil {
			return Entry{}, fmt.Errorf("allowed image entry %q is not a valid registry host", s)
		}
		return Entry{Registry: reference.Domain(named)}, nil
	}
	ref, err := reference.ParseNormalizedNamed(entry)
	if err != nil {
		return Entry{}, fmt.Errorf("allowed image entry %q is not a valid image repository: %w", s, err)
	}
	if _, tagged := ref.(reference.Tagged); tagged {
		return Entry{}, fmt.Errorf("allowed image entry %q must not carry a tag: it allows repositories, not images", s)
	}
	if _, digested := ref.(reference.Digested); digested {
		return Entry{}, fmt.Errorf("allowed image entry %q must not carry a digest: it allows repositories, not images", s)
	}
	return Entry{Registry: reference.Domain(ref), Path: reference.Path(ref)}, nil
}

// isRegistryOnly reports whether an entry without a "/" names a registry ("registry.example.com",
// "localhost:5000") rather than a Docker Hub repository ("ubuntu"), by the rule image references
// use for their first component.
func isRegistryOnly(entry string) bool {
	return !strings.Contains(entry, "/") && (strings.ContainsAny(entry, ".:") || entry == "localhost")
}

// ParseAllowList parses every entry and fails on the first that does not parse.
func ParseAllowList(entries []string) (AllowList, error) {
	list := make(AllowList, 0, len(entries))
	for _, s := range entries {
		e, err := ParseEntry(s)
		if err != nil {
			return nil, err
		}
		list = append(list, e)
	}
	return list, nil
}

// Allows reports whether image lies under an entry: the same registry (host names compare without
// regard to case, as DNS does) and a repository path equal to the entry's or below it at a "/".
// An image that does not parse is an error, never allowed.
func (l AllowList) Allows(image string) (bool, error) {
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return false, err
	}
	registry, path := reference.Domain(ref), reference.Path(ref)
	for _, e := range l {
		if !strings.EqualFold(registry, e.Registry) {
			continue
		}
		if e.Path == "" || path == e.Path || strings.HasPrefix(path, e.Path+"/") {
			return true, nil
		}
	}
	return false, nil
}

func (l AllowList) String() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.String()
	}
	return strings.Join(s, ",")
}
