package manager

import (
	"reflect"
	"testing"
)

func TestBinaryRanges(t *testing.T) {
	maps := `00400000-00c00000 r-xp 00000000 fd:01 1234                               /usr/local/bin/tenantwire
00c00000-01800000 r--p 00800000 fd:01 1234                               /usr/local/bin/tenantwire
01800000-01900000 rw-p 01400000 fd:01 1234                               /usr/local/bin/tenantwire (deleted)
01900000-01a00000 rw-p 00000000 00:00 0
c000000000-c004000000 rw-p 00000000 00:00 0
7f0000000000-7f0000001000 r--p 00000000 fd:01 99                         /usr/local/bin/tenantwire-other
7f0000002000-7f0000003000 r--p 00000000 fd:01 98                         /opt/with space/tenantwire
7fff00000000-7fff00021000 rw-p 00000000 00:00 0                          [stack]
`
	tests := map[string]struct {
		exe  string
		want []addrRange
	}{
		"the executable's text, rodata and data, replaced on disk or not": {"/usr/local/bin/tenantwire",
			[]addrRange{{0x400000, 0xc00000}, {0xc00000, 0x1800000}, {0x1800000, 0x1900000}}},
		"a path with a space":  {"/opt/with space/tenantwire", []addrRange{{0x7f0000002000, 0x7f0000003000}}},
		"no mapping of a path": {"/usr/local/bin/missing", nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := binaryRanges([]byte(maps), tc.exe); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("binaryRanges(%s) = %#v, want %#v", tc.exe, got, tc.want)
			}
		})
	}
}
