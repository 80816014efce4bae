//go:build !linux

package manager

// AdviseRandomCodeReads does nothing outside Linux, where no container accounting charges the
// binary's page cache to the manager.
func AdviseRandomCodeReads() error { return nil }
