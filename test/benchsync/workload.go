package main

import (
	"fmt"
	"math"
	"time"

	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/store"
)

const (
	benchTenant = "bench-clinic"
	// keyVersions is how many versions the benchmark keyring holds: with an older version retained
	// (the state after a rotation), Lookup computes a token per version and Put deletes the
	// patient's older-version rows, as they do in production between rotations and trims.
	keyVersions = 2
)

// systems are the systems every benchmark patient is known in; a record links two, as a sync's
// source and destination do, so Put writes one row per system.
var systems = [...]string{"cerbo", "zoho"}

// patient is one patient's record and, computed before any timing, the rows Put writes for it, so
// that the raw and store paths do no cryptography while they are timed.
type patient struct {
	record mappingseal.Record
	rows   [len(systems)]patientRow
}

// patientRow is the row of one system's ID: its active-version token and sealed value, and the
// tokens under the older versions, which Put deletes.
type patientRow struct {
	token []byte
	value store.Value
	older [][]byte
}

// newCodec returns a codec over a fresh keyring of keyVersions versions, the newest active.
func newCodec() (mappingseal.Codec, error) {
	var k *keyring.Keyring
	for range keyVersions {
		m, err := keyring.NewMaterial(nil)
		if err != nil {
			return mappingseal.Codec{}, err
		}
		k = keyring.Rotate(k, "AES-256-GCM", m, time.Now(), keyVersions)
	}
	if err := k.Validate(); err != nil {
		return mappingseal.Codec{}, err
	}
	return mappingseal.Codec{Tenant: benchTenant, Keyring: k}, nil
}

// makePatients builds patients from..from+n-1; patient i has the same IDs in every run.
func makePatients(c mappingseal.Codec, from, n int) ([]patient, error) {
	out := make([]patient, n)
	for k := range out {
		i := from + k
		p := &out[k]
		p.record.IDs = map[string]string{}
		for _, system := range systems {
			p.record.IDs[system] = fmt.Sprintf("%s-%09d", system, i)
		}
		for j, system := range systems {
			tokens := c.Tokens(system, p.record.IDs[system])
			if len(tokens) != keyVersions {
				return nil, fmt.Errorf("keyring gives %d tokens, want %d", len(tokens), keyVersions)
			}
			sealed, err := c.Seal(tokens[0], p.record)
			if err != nil {
				return nil, err
			}
			row := patientRow{token: tokens[0].Bytes(), value: store.Value{Version: sealed.Version, Data: sealed.Data}}
			for _, t := range tokens[1:] {
				row.older = append(row.older, t.Bytes())
			}
			p.rows[j] = row
		}
	}
	return out, nil
}

// patientSource hands out patients that are in no row yet, sealed ahead of the timing.
type patientSource struct {
	codec mappingseal.Codec
	// next is the index of the next new patient; min is the fewest patients a take prepares.
	next, min int
	// bestRate is the fastest put of new patients so far, in operations per second.
	bestRate float64
}

// take prepares enough new patients for a run of d: three times the best rate so far, so a run
// rarely stops early for want of patients (measure reports it when one does).
func (s *patientSource) take(d time.Duration) ([]patient, error) {
	n := max(s.min, int(math.Ceil(3*s.bestRate*d.Seconds())))
	out, err := makePatients(s.codec, s.next, n)
	s.next += n
	return out, err
}
