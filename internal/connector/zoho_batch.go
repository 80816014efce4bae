package connector

import (
	"context"
	"fmt"
	"net/http"

	zohocrm "github.com/tenantwire/tenantwire/internal/connector/zoho"
	"github.com/tenantwire/tenantwire/internal/record"
)

// Zoho CRM writes up to 100 records per request (zohocrm.MaxBatch): creates as one upsert body
// per duplicate check (records with an authorized email match on it, the others are inserted), and
// updates of known Contacts as one PUT /crm/v8/Contacts naming each by its Zoho ID. Zoho answers
// with one result per record, in order, and 2xx (207 when they differ).
var _ BatchDestination = (*zoho)(nil)

func (z *zoho) MaxBatch() int { return zohocrm.MaxBatch }

func (z *zoho) UpsertBatch(ctx context.Context, ids []string, records []Record) ([]BatchResult, error) {
	if len(ids) != len(records) || len(records) > zohocrm.MaxBatch {
		return nil, fmt.Errorf("connector: %s: a batch takes 1 to %d records, each with its destination ID or \"\"", SystemZoho, zohocrm.MaxBatch)
	}
	results := make([]BatchResult, len(records))
	// Creates, grouped by their duplicate check: one body has one duplicate_check_fields.
	groups := map[string][]int{}
	bodies := map[string]*zohocrm.Body{}
	var order []string
	// Updates of known Contacts.
	var updates []int
	for i, r := range records {
		if ids[i] != "" {
			updates = append(updates, i)
			continue
		}
		b, err := zohocrm.NewUpsert(r.Patient)
		if err != nil {
			results[i].Err = codecRejection(SystemZoho, "upsert contact", err)
			continue
		}
		key := fmt.Sprint(b.DuplicateCheckFields)
		if bodies[key] == nil {
			bodies[key] = &zohocrm.Body{DuplicateCheckFields: b.DuplicateCheckFields}
			order = append(order, key)
		}
		bodies[key].Data = append(bodies[key].Data, b.Data...)
		groups[key] = append(groups[key], i)
	}
	for _, key := range order {
		if err := z.writeBatch(ctx, "upsert contacts", http.MethodPost, zohoContacts+"/upsert", bodies[key], groups[key], ids, records, results); err != nil {
			return nil, err
		}
	}
	if len(updates) > 0 {
		patients := make([]record.Patient, 0, len(updates))
		upIDs := make([]string, 0, len(updates))
		for _, i := range updates {
			patients = append(patients, records[i].Patient)
			upIDs = append(upIDs, ids[i])
		}
		body, err := zohocrm.NewUpdates(upIDs, patients)
		if err != nil {
			return nil, fmt.Errorf("connector: %s: update contacts: %w", SystemZoho, err)
		}
		if err := z.writeBatch(ctx, "update contacts", http.MethodPut, zohoContacts, body, updates, ids, records, results); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// writeBatch sends one multi-record body whose records are records[at[k]] and fills their
// results. A 4xx answer to the whole body (Zoho answers 400 when every record fails) does not say
// which record is at fault, so those records are written one by one instead.
func (z *zoho) writeBatch(ctx context.Context, op, method, path string, body any, at []int, ids []string, records []Record, results []BatchResult) error {
	var out struct {
		Data []zohoResult `json:"data"`
	}
	_, err := z.api.do(ctx, call{op: op, method: method, path: path, body: body, out: &out})
	if err != nil && isRecordRejection(err) && len(at) > 1 {
		for _, i := range at {
			id, err := z.Upsert(ctx, ids[i], records[i])
			if err != nil && !isRecordRejection(err) {
				return err
			}
			results[i] = BatchResult{ID: id, Err: err}
		}
		return nil
	}
	if err != nil {
		if isRecordRejection(err) {
			results[at[0]].Err = err
			return nil
		}
		return err
	}
	if len(out.Data) != len(at) {
		return fmt.Errorf("connector: %s: %s: the answer has %d record results for %d records", SystemZoho, op, len(out.Data), len(at))
	}
	for k, i := range at {
		res := out.Data[k]
		switch {
		case res.Status != "success":
			results[i].Err = &RejectedError{System: SystemZoho, Op: op, Code: joinCode(res.Code, res.Details.APIName)}
		case ids[i] != "":
			results[i].ID = ids[i]
		case res.Details.ID == "":
			return missingIDError(SystemZoho, op)
		default:
			results[i].ID = res.Details.ID
		}
	}
	return nil
}
