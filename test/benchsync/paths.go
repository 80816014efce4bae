package main

import (
	"context"

	"github.com/tenantwire/tenantwire/internal/mappingseal"
	"github.com/tenantwire/tenantwire/internal/mappingstore"
	"github.com/tenantwire/tenantwire/internal/store"
)

// path is one way of doing the benchmark's two operations. All paths issue the same statements
// with the same arguments in the same order (run_test.go checks that they leave the same rows), so
// their difference is the code between the caller and the driver: nothing for the raw driver, the
// store for store, the store plus HMAC tokens and AES-GCM for mappingstore.
type path interface {
	name() string
	// lookup finds an existing patient by their ID in systems[system].
	lookup(ctx context.Context, p *patient, system int) error
	// put writes a patient's record in one transaction: per system, an upsert under the active
	// token and a delete under each older token, which is what mappingstore.Put does.
	put(ctx context.Context, p *patient) error
}

const (
	pathRaw          = "raw driver"
	pathStore        = "store"
	pathMappingstore = "mappingstore"
)

// statements are the hot path's statements, run with values sealed beforehand: a get, and a
// transaction of deletes then upserts (store.Store.WriteRows).
type statements interface {
	get(ctx context.Context, token []byte) error
	write(ctx context.Context, upserts []store.Row, deletes [][]byte) error
}

// statementPath runs the statements of each operation itself: through the raw driver (the
// baseline) or through the store alone (the storage share of the full path's cost).
type statementPath struct {
	label string
	run   statements
}

func (sp statementPath) name() string { return sp.label }

func (sp statementPath) lookup(ctx context.Context, p *patient, system int) error {
	return sp.run.get(ctx, p.rows[system].token)
}

func (sp statementPath) put(ctx context.Context, p *patient) error {
	var upserts []store.Row
	var deletes [][]byte
	for _, row := range p.rows {
		upserts = append(upserts, store.Row{Token: row.token, Value: row.value})
		deletes = append(deletes, row.older...)
	}
	return sp.run.write(ctx, upserts, deletes)
}

// storeStatements runs the statements through store.Store's methods.
type storeStatements struct{ s store.Store }

func (ss storeStatements) get(ctx context.Context, token []byte) error {
	_, err := ss.s.Get(ctx, token)
	return err
}

func (ss storeStatements) write(ctx context.Context, upserts []store.Row, deletes [][]byte) error {
	return ss.s.WriteRows(ctx, upserts, deletes)
}

// mappingstorePath is the full path the sync runtime takes: tokens, sealing and opening included.
type mappingstorePath struct {
	s store.Store
	c mappingseal.Codec
}

func (mappingstorePath) name() string { return pathMappingstore }

func (pp mappingstorePath) lookup(ctx context.Context, p *patient, system int) error {
	_, err := mappingstore.Lookup(ctx, pp.s, pp.c, systems[system], p.record.IDs[systems[system]])
	return err
}

func (pp mappingstorePath) put(ctx context.Context, p *patient) error {
	return mappingstore.Put(ctx, pp.s, pp.c, p.record)
}
