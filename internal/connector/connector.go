// Package connector is how the sync runtime talks to the systems it moves records between. A
// connector reads the records changed since a cursor (Source) and writes a record idempotently
// (Destination). Every connector speaks HTTPS with TLS 1.2 or higher and refuses plain HTTP before a
// byte is sent.
//
// A Record carries the fields being moved through memory only: the runtime never stores them. What
// it stores is the patient-ID mapping (internal/mappingstore), which links a record's IDs across
// systems and nothing else.
package connector

import (
	"context"
	"errors"
	"time"

	"github.com/tenantwire/tenantwire/internal/record"
)

// Record is one record in flight between two systems.
type Record struct {
	// ID is the record's identifier in the system it was read from.
	ID string
	// PatientID identifies the patient the record belongs to in the system it was read from. For a
	// patient record it equals ID.
	PatientID string
	// UpdatedAt is when the source last changed the record.
	UpdatedAt time.Time
	// IdempotencyKey, set by the runtime on creates and on every record of a batch, is the same
	// for every attempt to write this patient at this destination: a create retried after a pod
	// was killed between the write and the mapping is recognised by destinations that dedupe on it
	// (QuickBooks' requestid).
	IdempotencyKey string
	// Patient is the record in canonical form: what a source adapter decoded with its vendor's
	// codec, and, after the runtime's record.Authorize, all a destination adapter may encode. Its
	// values pass through memory only and are never logged or stored.
	Patient record.Patient
}

// Page is one page of changed records.
type Page struct {
	Records []Record
	// Next is the opaque cursor that resumes after this page; the runtime commits it once the
	// page's records are written. Committing it never skips a record. It may repeat one: a source
	// whose change filter has whole-second or inclusive bounds reads the newest records of one scan
	// again in the next, because skipping one would lose a change and Upsert makes a repeat
	// harmless.
	Next string
	// More says another page follows right away; false means the source has no more changes now.
	More bool
}

// Source lists the records a system changed since a cursor, one page at a time. An empty cursor
// starts from the beginning.
type Source interface {
	Changes(ctx context.Context, cursor string) (Page, error)
}

// RecordSource is a Source that can read one record again by its ID in that system, as the replay
// of rejected records needs. A source without it (a webhook source: records are delivered to it,
// it cannot ask for one) cannot replay.
type RecordSource interface {
	Get(ctx context.Context, id string) (Record, error)
}

// ErrRecordGone means the source no longer holds a record with the ID asked for.
var ErrRecordGone = errors.New("the source no longer holds the record")

// Destination writes records. Upsert updates the record with destination ID id, or creates one when
// id is empty, and returns the destination's ID of the record. Calling it again with the returned ID
// and the same record changes nothing more, which makes a retried batch safe.
type Destination interface {
	Upsert(ctx context.Context, id string, r Record) (string, error)
}

// Connector is one system: the runtime uses it as a source, a destination, or both.
type Connector interface {
	Source
	Destination
	// System is the system's name as an Integration names it (cerbo, quickbooks, ...).
	System() string
}

// Credentials are the files of one system's mounted credentials Secret, by file name. They are
// secret: never log or wrap them into errors.
type Credentials map[string][]byte
