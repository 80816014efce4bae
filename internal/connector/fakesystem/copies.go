package fakesystem

import "maps"

// cloneAll copies a fake's records, so a test reads them without holding the fake's lock.
func cloneAll(records []map[string]any) []map[string]any {
	out := make([]map[string]any, 0, len(records))
	for _, r := range records {
		out = append(out, maps.Clone(r))
	}
	return out
}
