package childcache

import (
	"maps"
	"testing"
)

// TestSharedMapsTellsCollidingSetsApart: a set whose hash another set already has is not handed
// the other set.
func TestSharedMapsTellsCollidingSetsApart(t *testing.T) {
	first := map[string]string{"app.kubernetes.io/component": "sync"}
	colliding := map[string]string{"app.kubernetes.io/component": "rbac"}
	s := &sharedMaps{limit: 10, sets: map[uint64]map[string]string{contentID(colliding): first}}
	if got := s.share(colliding); !maps.Equal(got, colliding) {
		t.Errorf("share(%v) = %v", colliding, got)
	}
	if got := s.share(first); !maps.Equal(got, first) {
		t.Errorf("share(%v) = %v", first, got)
	}
}

// TestSharedMapsStartAfreshAtLimit: the sets a process ever saw do not pile up.
func TestSharedMapsStartAfreshAtLimit(t *testing.T) {
	s := &sharedMaps{limit: 2}
	for _, v := range []string{"a", "b", "c"} {
		s.share(map[string]string{"k": v})
	}
	if len(s.sets) != 1 {
		t.Errorf("%d sets held, want 1 after starting afresh", len(s.sets))
	}
}
