package syncconfig

import (
	"slices"
	"strings"
	"sync"

	yamlv2 "go.yaml.in/yaml/v2"
)

// appendBlock appends m as go.yaml.in/yaml/v2 renders it in block style at the given indent:
// keys sorted, a nested map indented by two, a list's items ("- ") at its key's indent, an empty
// map or list in flow style. It reports false for anything whose rendering depends on more than
// the value itself (a string with a blank, a line break or a character beyond printable ASCII,
// which YAML may fold, break or escape by its position), or for a key or value of another kind;
// Marshal renders those with the library. FuzzMarshalMatchesSigsYAML holds the two to the same
// bytes.
func appendBlock(b []byte, m map[string]any, indent int) ([]byte, bool) {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !isLetters(k) {
			// The library orders keys with digits by their numbers.
			return b, false
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = appendIndent(b, indent)
		b = append(b, k...)
		b = append(b, ':')
		var ok bool
		switch v := m[k].(type) {
		case string:
			b = append(b, ' ')
			if b, ok = appendScalar(b, v); !ok {
				return b, false
			}
			b = append(b, '\n')
		case map[string]any:
			if len(v) == 0 {
				b = append(b, " {}\n"...)
				continue
			}
			b = append(b, '\n')
			if b, ok = appendBlock(b, v, indent+2); !ok {
				return b, false
			}
		case []any:
			if len(v) == 0 {
				b = append(b, " []\n"...)
				continue
			}
			b = append(b, '\n')
			for _, item := range v {
				s, isString := item.(string)
				if !isString {
					return b, false
				}
				b = appendIndent(b, indent)
				b = append(b, "- "...)
				if b, ok = appendScalar(b, s); !ok {
					return b, false
				}
				b = append(b, '\n')
			}
		default:
			return b, false
		}
	}
	return b, true
}

// appendScalar appends s in the style the library gives a string of printable ASCII without
// blanks: plain when it reads back as that string and no indicator forbids it, single-quoted when
// an indicator does, double-quoted when plain it would read as something else (a number, a
// boolean, null). Strings that start like a number go through the library, whose rules for those
// are long.
func appendScalar(b []byte, s string) ([]byte, bool) {
	if s == "" {
		return append(b, `""`...), true
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return b, false
		}
	}
	switch {
	case strings.ContainsRune("+-.0123456789", rune(s[0])):
		y, ok := numberLike.render(s)
		return append(b, y...), ok
	case readsAsOther(s):
		// Those words hold nothing to escape.
		return append(append(append(b, '"'), s...), '"'), true
	case plainAllowed(s):
		return append(b, s...), true
	}
	return append(append(append(b, '\''), strings.ReplaceAll(s, "'", "''")...), '\''), true
}

// numberLike holds the library's rendering of strings that start like a number ("5m0s", "1.2"):
// an Integration's configuration holds the same few (its interval, the TLS minimum), and the
// library's rendering of one costs as much as the rest of the configuration. At most
// numberLikeMax are kept; others are rendered each time.
var numberLike = renderings{m: map[string]string{}}

const numberLikeMax = 256

type renderings struct {
	mu sync.Mutex
	m  map[string]string
}

func (r *renderings) render(s string) (string, bool) {
	r.mu.Lock()
	y, ok := r.m[s]
	r.mu.Unlock()
	if ok {
		return y, true
	}
	out, err := yamlv2.Marshal(s)
	if err != nil {
		return "", false
	}
	y = strings.TrimSuffix(string(out), "\n")
	r.mu.Lock()
	if len(r.m) < numberLikeMax {
		r.m[s] = y
	}
	r.mu.Unlock()
	return y, true
}

// readsAsOther reports the strings (not starting like a number) that the library reads back as a
// boolean or null: the words of its table whose first letter sends it there (its merge key "<<"
// does not, and stays a plain string).
func readsAsOther(s string) bool {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
		"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
		"~", "null", "Null", "NULL":
		return true
	}
	return false
}

// plainAllowed is libyaml's test of a plain scalar in block context, for printable ASCII without
// blanks: no indicator first, no ": " or trailing ':' (a blank or the end follows it).
func plainAllowed(s string) bool {
	if strings.ContainsRune("#,[]{}&*!|>'\"%@`", rune(s[0])) {
		return false
	}
	// A lone '?' is the mapping key indicator; a lone ':' ends in ':'; '-' starts like a number and
	// never reaches here.
	return s != "?" && s[len(s)-1] != ':'
}

func isLetters(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

func appendIndent(b []byte, n int) []byte {
	for range n {
		b = append(b, ' ')
	}
	return b
}
