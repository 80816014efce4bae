package testenv

import "testing"

// TestFreeLoopbackAddrsAreDistinct: the addresses asked for together never share a port, as two
// FreeLoopbackAddr calls in a row once did.
func TestFreeLoopbackAddrsAreDistinct(t *testing.T) {
	addrs, err := FreeLoopbackAddrs(64)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[a] {
			t.Fatalf("%s handed out twice in %v", a, addrs)
		}
		seen[a] = true
	}
	if len(addrs) != 64 {
		t.Errorf("got %d addresses, want 64", len(addrs))
	}
}
