package syncrun

import (
	"errors"
	"fmt"

	"github.com/tenantwire/tenantwire/internal/record"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
)

// errNoFields is why a runtime without authorized fields does not start: an empty list could only
// be read as "nothing" (a sync that moves nothing and looks healthy) or "everything" (the breach
// the field list exists to prevent).
var errNoFields = errors.New("sync.yaml: fields is empty: the runtime moves only the canonical fields the practice " +
	"authorized (the Integration's fields, which the operator renders), and refuses to start without them")

// AuthorizedFields is the set of canonical fields the configuration authorizes to flow from the
// source to the destination. An empty list or an unknown field name is an error that says which.
func AuthorizedFields(cfg syncconfig.Config) (record.Set, error) {
	if len(cfg.Fields) == 0 {
		return record.Set{}, errNoFields
	}
	set, err := record.ParseSet(cfg.Fields)
	if err != nil {
		return record.Set{}, fmt.Errorf("sync.yaml: fields: %w", err)
	}
	return set, nil
}
