// Package memstats measures memory for the benchmarks that report what a store keeps.
package memstats

import "runtime"

// LiveHeap is the heap still in use after two collections: what memory benchmarks compare before
// and after building what they measure.
func LiveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
