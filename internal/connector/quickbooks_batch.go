package connector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tenantwire/tenantwire/internal/connector/quickbooks"
)

// QuickBooks writes up to 30 records per request through Intuit's batch endpoint
// (quickbooks.MaxBatchItems, at most 40 batch requests a minute per realm):
//
//	GET  {base}/v3/company/{realm}/query?query=select * from Customer where Id in ('1', '2', ...)
//	     -> the current SyncToken of every Customer the batch updates, in one request
//	POST {base}/v3/company/{realm}/batch?minorversion=75&requestid=<key>
//	     {"BatchItemRequest": [{"bId": "0", "operation": "create", "Customer": {...}},
//	                           {"bId": "1", "operation": "update", "Customer": {"Id", "SyncToken", "sparse": true, ...}}]}
//	     -> {"BatchItemResponse": [{"bId": "0", "Customer": {"Id": ...}}, {"bId": "1", "Fault": {...}}]}
//
// Intuit's requestid names the whole request, not an item: a batch sent again with the same
// requestid is answered with the first answer and writes nothing. A batch with creates carries a
// requestid derived from every record's idempotency key (a secret HMAC of the patient) and its
// authorized content, in order, and not from whether each is a create or an update. So the
// runtime's retry after a crash between the batch write and its mapping rows (it reads the same
// page again and builds the same batch, some of whose records the mapping may know by then) is
// answered with the Customers the first attempt created, and none is created twice. A batch whose
// content changed is another request; a batch of updates only carries no requestid (updates are
// idempotent), nor does one whose records lack idempotency keys. A fault for the whole batch
// (HTTP 4xx) has the records written one by one, so each gets its own result.
var _ BatchDestination = (*quickBooks)(nil)

func (q *quickBooks) MaxBatch() int { return quickbooks.MaxBatchItems }

// quickBooksBatchItem is one BatchItemRequest.
type quickBooksBatchItem struct {
	BID       string              `json:"bId"`
	Operation string              `json:"operation"`
	Customer  quickbooks.Customer `json:"Customer"`
}

// quickBooksBatchAnswer is one BatchItemResponse: the item's Customer or its Fault.
type quickBooksBatchAnswer struct {
	BID      string              `json:"bId"`
	Customer quickbooks.Customer `json:"Customer"`
	Fault    *quickBooksFault    `json:"Fault"`
}

func (q *quickBooks) UpsertBatch(ctx context.Context, ids []string, records []Record) ([]BatchResult, error) {
	if len(ids) != len(records) || len(records) == 0 || len(records) > quickbooks.MaxBatchItems {
		return nil, fmt.Errorf("connector: %s: a batch takes 1 to %d records, each with its destination ID or \"\"", SystemQuickBooks, quickbooks.MaxBatchItems)
	}
	results := make([]BatchResult, len(records))
	tokens, err := q.syncTokens(ctx, ids)
	if err != nil {
		return nil, err
	}
	var items []quickBooksBatchItem
	// at[bId] is the index of the record an item carries.
	at := map[string]int{}
	requestID, keyed, creates := sha256.New(), true, false
	for i, r := range records {
		content, err := json.Marshal(r.Patient)
		if err != nil {
			return nil, fmt.Errorf("connector: %s: batch customers: %w", SystemQuickBooks, err)
		}
		keyed = keyed && r.IdempotencyKey != ""
		// A hash.Hash never fails a write.
		_, _ = fmt.Fprintf(requestID, "%d %s %d %s\n", i, r.IdempotencyKey, len(content), content)
		item := quickBooksBatchItem{BID: strconv.Itoa(i), Operation: "create"}
		if ids[i] == "" {
			creates = true
			item.Customer, err = quickbooks.NewCustomer(r.Patient)
		} else {
			token, found := tokens[ids[i]]
			if !found {
				// As the one-record update's read would be answered: Object Not Found.
				results[i].Err = &RejectedError{System: SystemQuickBooks, Op: "update customer", Code: joinCode("610", "Id")}
				continue
			}
			item.Operation = "update"
			item.Customer, err = quickbooks.SparseUpdate(r.Patient, ids[i], token)
		}
		if err != nil {
			results[i].Err = codecRejection(SystemQuickBooks, item.Operation+" customer", err)
			continue
		}
		at[item.BID] = i
		items = append(items, item)
	}
	if len(items) == 0 {
		return results, nil
	}
	query := url.Values{"minorversion": {quickBooksMinorVersion}}
	if keyed && creates {
		// Intuit takes a requestid of up to 50 characters.
		query.Set("requestid", hex.EncodeToString(requestID.Sum(nil))[:32])
	}
	var out struct {
		BatchItemResponse []quickBooksBatchAnswer `json:"BatchItemResponse"`
	}
	body := map[string]any{"BatchItemRequest": items}
	_, err = q.api.do(ctx, call{op: "batch customers", method: http.MethodPost, path: q.companyPath("/batch"), query: query, body: body, out: &out, batch: true})
	if isRecordRejection(err) {
		// A fault for the whole batch says nothing per item and wrote nothing: the items are
		// written one by one instead, each create under its own idempotency key.
		for _, i := range at {
			id, err := q.Upsert(ctx, ids[i], records[i])
			if err != nil && !isRecordRejection(err) {
				return nil, err
			}
			results[i] = BatchResult{ID: id, Err: err}
		}
		return results, nil
	}
	if err != nil {
		return nil, err
	}
	answered := 0
	for _, a := range out.BatchItemResponse {
		i, ok := at[a.BID]
		if !ok {
			return nil, fmt.Errorf("connector: %s: batch customers: the answer has an item this batch did not send", SystemQuickBooks)
		}
		delete(at, a.BID)
		answered++
		op := "create customer"
		if ids[i] != "" {
			op = "update customer"
		}
		switch {
		case a.Fault != nil:
			results[i].Err = &RejectedError{System: SystemQuickBooks, Op: op, Code: a.Fault.code()}
		case a.Customer.ID == "":
			return nil, missingIDError(SystemQuickBooks, op)
		default:
			results[i].ID = a.Customer.ID
		}
	}
	if len(at) > 0 {
		return nil, fmt.Errorf("connector: %s: batch customers: the answer has %d item results for %d items", SystemQuickBooks, answered, len(items))
	}
	return results, nil
}

// syncTokens reads the current SyncToken of every Customer ids names, in one query. Customers the
// query does not return are absent from the map.
func (q *quickBooks) syncTokens(ctx context.Context, ids []string) (map[string]string, error) {
	var quoted []string
	for _, id := range ids {
		if id == "" {
			continue
		}
		// Customer IDs are Intuit's own numeric strings; anything else cannot be quoted safely into
		// the query language, and no Customer has it.
		if _, err := strconv.ParseUint(id, 10, 64); err != nil {
			continue
		}
		quoted = append(quoted, "'"+id+"'")
	}
	tokens := map[string]string{}
	if len(quoted) == 0 {
		return tokens, nil
	}
	var out struct {
		QueryResponse struct {
			Customer []quickbooks.Customer `json:"Customer"`
		} `json:"QueryResponse"`
	}
	statement := fmt.Sprintf("select * from Customer where Id in (%s) MAXRESULTS %d", strings.Join(quoted, ", "), len(quoted))
	query := url.Values{"query": {statement}, "minorversion": {quickBooksMinorVersion}}
	if _, err := q.api.do(ctx, call{op: "read customers", method: http.MethodGet, path: q.companyPath("/query"), query: query, out: &out}); err != nil {
		return nil, err
	}
	for _, c := range out.QueryResponse.Customer {
		tokens[c.ID] = c.SyncToken
	}
	return tokens, nil
}
