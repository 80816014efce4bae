package connector

import (
	"errors"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
)

// codecRejection turns a codec's refusal to encode a record (a Contact without a last name, an
// upsert with neither email nor phone) into a rejection of that record: nothing was sent, and
// sending the same record again cannot succeed. The code names the property, never a value.
func codecRejection(system, op string, err error) error {
	var enc *contract.EncodeError
	if !errors.As(err, &enc) {
		return err
	}
	code := "NOT_ENCODABLE"
	if isCode(enc.Property) {
		code = joinCode(code, enc.Property)
	}
	return &RejectedError{System: system, Op: op, Code: code}
}
