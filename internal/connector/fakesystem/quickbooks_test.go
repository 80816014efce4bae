package fakesystem_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
	"github.com/tenantwire/tenantwire/internal/connector/quickbooks"
)

const realm = "4620816365"

func newQuickBooks(t *testing.T, customers ...map[string]any) (*fakesystem.QuickBooks, *api) {
	t.Helper()
	tokens := newTokens()
	q := fakesystem.NewQuickBooks(realm, tokens, customers...)
	return q, serve(t, q, tokens, "Bearer")
}

func customerDefinition(t *testing.T) *contract.Definition {
	t.Helper()
	d, err := quickbooks.CustomerDefinition()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

const customerPath = "/v3/company/" + realm + "/customer?minorversion=75"

// TestQuickBooksAcceptsEveryPropertyOfTheDefinition derives the accepted property set from the
// kept Customer definition: a create that uses every property it defines, nested ones included,
// is accepted, so the fake refuses nothing Intuit defines.
func TestQuickBooksAcceptsEveryPropertyOfTheDefinition(t *testing.T) {
	q, a := newQuickBooks(t)
	body := sample(customerDefinition(t).Body).(map[string]any)
	delete(body, "Id")
	delete(body, "SyncToken")
	if r := a.do(http.MethodPost, customerPath, body); r.status != http.StatusOK {
		t.Fatalf("a create using every defined property = %d %s", r.status, r.body)
	}
	if s := q.Stats(); s.Created != 1 || s.Refused != 0 {
		t.Errorf("stats = %+v", s)
	}
}

// TestQuickBooksRefusesWhatIntuitRefuses plays the runtime that forwards source objects: each
// body that breaks the kept definition is answered exactly as quickbooks.Refusal answers it
// (ValidationFault 2010 naming each undefined element, 6080 without a name element), nothing is
// created, and no value is echoed.
func TestQuickBooksRefusesWhatIntuitRefuses(t *testing.T) {
	d := customerDefinition(t)
	raw := rawCerboPatient()
	tests := map[string]struct {
		body     any
		wantCode string
		wantElem string
	}{
		"raw Cerbo patient": {body: raw, wantCode: "6080"},
		"one undefined property": {body: map[string]any{"GivenName": "Testy", "clinical_notes": raw["clinical_notes"]},
			wantCode: "2010", wantElem: "clinical_notes"},
		"no name element":     {body: map[string]any{"PrimaryEmailAddr": map[string]any{"Address": "testy@example.com"}}, wantCode: "6080"},
		"display name only":   {body: map[string]any{"DisplayName": "Testy McTestface"}, wantCode: "6080"},
		"name too long":       {body: map[string]any{"FamilyName": "McTestfaceMcTestface"}, wantCode: "2010", wantElem: "FamilyName"},
		"email not an object": {body: map[string]any{"GivenName": "Testy", "PrimaryEmailAddr": "testy@example.com"}, wantCode: "2010", wantElem: "PrimaryEmailAddr"},
		"nested undefined":    {body: map[string]any{"GivenName": "Testy", "BillAddr": map[string]any{"Line1": "1 Example Way", "Lat": "45"}}, wantCode: "2010", wantElem: "BillAddr.Lat"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			q, a := newQuickBooks(t)
			r := a.do(http.MethodPost, customerPath, tc.body)
			status, want := quickbooks.Refusal(d.Check(mustJSON(t, tc.body)))
			if r.status != status || !bytes.Equal(bytes.TrimSpace(r.body), want) {
				t.Fatalf("answer = %d %s\nwant     %d %s", r.status, r.body, status, want)
			}
			var f quickbooks.Fault
			r.decode(t, &f)
			if f.Fault.Type != "ValidationFault" || f.Fault.Error[0].Code != tc.wantCode || f.Fault.Error[0].Element != tc.wantElem {
				t.Errorf("first error = %+v, want %s on %q", f.Fault.Error[0], tc.wantCode, tc.wantElem)
			}
			if s := q.Stats(); s.Created != 0 || s.Refused != 1 || len(q.Customers()) != 0 {
				t.Errorf("stats = %+v, customers %d; want nothing created and one refusal", s, len(q.Customers()))
			}
			wantNoValue(t, r.body, append(clinicalValues(raw), "McTestface", "testy@example.com")...)
		})
	}
}

func TestQuickBooksRefusesADuplicateDisplayName(t *testing.T) {
	q, a := newQuickBooks(t)
	if r := a.do(http.MethodPost, customerPath, map[string]any{"GivenName": "Testy", "FamilyName": "McTestface"}); r.status != http.StatusOK {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	// No DisplayName: Intuit derives one from the name elements, and it is taken.
	r := a.do(http.MethodPost, customerPath, map[string]any{"GivenName": "Testy", "FamilyName": "McTestface"})
	var f quickbooks.Fault
	r.decode(t, &f)
	if r.status != http.StatusBadRequest || f.Fault.Error[0].Code != "6240" || f.Fault.Error[0].Element != "DisplayName" {
		t.Fatalf("second create = %d %s, want ValidationFault 6240 on DisplayName", r.status, r.body)
	}
	if s := q.Stats(); s.Created != 1 || s.Duplicates != 1 {
		t.Errorf("stats = %+v, want 1 created and 1 duplicate", s)
	}
}

// TestQuickBooksRepeatedRequestIDCreatesNothing is the retry after a lost answer: the same
// requestid is answered with the first answer and creates no second customer.
func TestQuickBooksRepeatedRequestIDCreatesNothing(t *testing.T) {
	q, a := newQuickBooks(t)
	body := map[string]any{"GivenName": "Testy", "FamilyName": "McTestface"}
	first := a.do(http.MethodPost, customerPath+"&requestid=r-1", body)
	again := a.do(http.MethodPost, customerPath+"&requestid=r-1", body)
	if first.status != http.StatusOK || again.status != first.status || !bytes.Equal(again.body, first.body) {
		t.Fatalf("repeated requestid = %d %s, want the first answer %d %s", again.status, again.body, first.status, first.body)
	}
	if other := a.do(http.MethodPost, customerPath+"&requestid=r-2", map[string]any{"GivenName": "Fakey"}); other.status != http.StatusOK {
		t.Fatalf("another requestid = %d %s", other.status, other.body)
	}
	if s := q.Stats(); s.Created != 2 || s.Replayed != 1 || s.Duplicates != 0 || len(q.Customers()) != 2 {
		t.Errorf("stats = %+v, customers %d; want 2 created, 1 replayed, no duplicate", s, len(q.Customers()))
	}
}

func TestQuickBooksUpdates(t *testing.T) {
	existing := map[string]any{"Id": "7", "SyncToken": "3", "GivenName": "Testy", "FamilyName": "McTestface", "DisplayName": "Testy McTestface",
		"Notes": "kept by the practice", "PrimaryEmailAddr": map[string]any{"Address": "testy@example.com"},
		"MetaData": map[string]any{"CreateTime": "2026-01-01T00:00:00Z", "LastUpdatedTime": "2026-01-01T00:00:00Z"}}
	tests := map[string]struct {
		body       map[string]any
		wantStatus int
		wantCode   string
		check      func(t *testing.T, c map[string]any)
	}{
		"sparse keeps what it does not name": {
			body: map[string]any{"Id": "7", "SyncToken": "3", "sparse": true, "PrimaryPhone": map[string]any{"FreeFormNumber": "+1 555 0101"}},
			check: func(t *testing.T, c map[string]any) {
				if c["Notes"] != "kept by the practice" || c["GivenName"] != "Testy" || c["SyncToken"] != "4" || c["PrimaryPhone"] == nil {
					t.Errorf("customer after a sparse update = %v", c)
				}
			},
		},
		"full update loses what it leaves out": {
			body: map[string]any{"Id": "7", "SyncToken": "3", "GivenName": "Testy"},
			check: func(t *testing.T, c map[string]any) {
				if _, kept := c["Notes"]; kept || c["PrimaryEmailAddr"] != nil {
					t.Errorf("customer after a full update = %v, want Notes and PrimaryEmailAddr gone", c)
				}
			},
		},
		"no SyncToken":       {body: map[string]any{"Id": "7", "sparse": true, "GivenName": "T"}, wantStatus: http.StatusBadRequest, wantCode: "2020"},
		"stale SyncToken":    {body: map[string]any{"Id": "7", "SyncToken": "2", "sparse": true, "GivenName": "T"}, wantStatus: http.StatusBadRequest, wantCode: "5010"},
		"unknown Id":         {body: map[string]any{"Id": "8", "SyncToken": "0", "sparse": true, "GivenName": "T"}, wantStatus: http.StatusBadRequest, wantCode: "610"},
		"undefined property": {body: map[string]any{"Id": "7", "SyncToken": "3", "sparse": true, "dob": "1970-01-01"}, wantStatus: http.StatusBadRequest, wantCode: "2010"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			q, a := newQuickBooks(t, maps.Clone(existing))
			r := a.do(http.MethodPost, customerPath, tc.body)
			if tc.wantStatus == 0 {
				if r.status != http.StatusOK {
					t.Fatalf("update = %d %s", r.status, r.body)
				}
				tc.check(t, q.Customer("7"))
				if s := q.Stats(); s.Updated != 1 {
					t.Errorf("stats = %+v", s)
				}
				return
			}
			var f quickbooks.Fault
			r.decode(t, &f)
			if r.status != tc.wantStatus || f.Fault.Error[0].Code != tc.wantCode {
				t.Fatalf("update = %d %s, want %d with code %s", r.status, r.body, tc.wantStatus, tc.wantCode)
			}
			if c := q.Customer("7"); c["SyncToken"] != "3" {
				t.Errorf("a refused update changed the customer: %v", c)
			}
		})
	}
}

// TestQuickBooksThrottlesPastTheRequestRate sends one request more than the window holds: it is
// answered 429 with Intuit's ThrottlingFault, and the window frees up as it slides.
func TestQuickBooksThrottlesPastTheRequestRate(t *testing.T) {
	q, a := newQuickBooks(t)
	q.RateLimit = contract.RateLimit{Requests: 5, Per: 300 * time.Millisecond}
	query := "/v3/company/" + realm + "/query?query=" + urlQuery("select * from Customer ORDERBY MetaData.LastUpdatedTime DESC STARTPOSITION 1 MAXRESULTS 10")
	for i := range 5 {
		if r := a.do(http.MethodGet, query, nil); r.status != http.StatusOK {
			t.Fatalf("request %d = %d %s", i, r.status, r.body)
		}
	}
	r := a.do(http.MethodGet, query, nil)
	var f quickbooks.Fault
	r.decode(t, &f)
	if r.status != http.StatusTooManyRequests || f.Fault.Type != "ThrottlingFault" || f.Fault.Error[0].Code != quickbooks.ThrottleCode {
		t.Fatalf("sixth request = %d %s, want 429 ThrottlingFault %s", r.status, r.body, quickbooks.ThrottleCode)
	}
	time.Sleep(350 * time.Millisecond)
	if r := a.do(http.MethodGet, query, nil); r.status != http.StatusOK {
		t.Fatalf("after the window = %d %s", r.status, r.body)
	}
	if s := q.Stats(); s.Throttled != 1 || s.Requests != 6 {
		t.Errorf("stats = %+v, want 6 requests served and 1 throttled", s)
	}
}

func TestQuickBooksThrottlesPastTheConcurrencyLimit(t *testing.T) {
	q, a := newQuickBooks(t)
	q.RateLimit, q.Latency = contract.RateLimit{Concurrent: 2}, 400*time.Millisecond
	path := "/v3/company/" + realm + "/customer/1"
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { a.do(http.MethodGet, path, nil) })
	}
	time.Sleep(150 * time.Millisecond)
	r := a.do(http.MethodGet, path, nil)
	wg.Wait()
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("third call in flight = %d %s, want 429", r.status, r.body)
	}
	if s := q.Stats(); s.Throttled != 1 {
		t.Errorf("stats = %+v", s)
	}
}

// TestQuickBooksDefaultsToThePublishedLimit: without a RateLimit the fake serves Intuit's 500
// requests a minute and refuses the 501st.
func TestQuickBooksDefaultsToThePublishedLimit(t *testing.T) {
	q, a := newQuickBooks(t)
	path := "/v3/company/" + realm + "/customer/1"
	for i := range quickbooks.RateLimit.Requests {
		if r := a.do(http.MethodGet, path, nil); r.status == http.StatusTooManyRequests {
			t.Fatalf("request %d throttled", i+1)
		}
	}
	if r := a.do(http.MethodGet, path, nil); r.status != http.StatusTooManyRequests {
		t.Fatalf("request %d = %d, want 429", quickbooks.RateLimit.Requests+1, r.status)
	}
	if s := q.Stats(); s.Throttled != 1 {
		t.Errorf("stats = %+v", s)
	}
}

const batchPath = "/v3/company/" + realm + "/batch?minorversion=75"

type batchResponse struct {
	Items []struct {
		BID      string           `json:"bId"`
		Customer map[string]any   `json:"Customer"`
		Fault    *json.RawMessage `json:"Fault"`
	} `json:"BatchItemResponse"`
}

// TestQuickBooksBatchAnswersEachItem: each item is written or refused as its own request would
// be, under its bId; a batch carries at most 30 items and is deduplicated by requestid too.
func TestQuickBooksBatchAnswersEachItem(t *testing.T) {
	q, a := newQuickBooks(t, map[string]any{"Id": "7", "SyncToken": "0", "GivenName": "Demo", "DisplayName": "Demo",
		"MetaData": map[string]any{"CreateTime": "2026-01-01T00:00:00Z", "LastUpdatedTime": "2026-01-01T00:00:00Z"}})
	items := []any{
		map[string]any{"bId": "1", "operation": "create", "Customer": map[string]any{"GivenName": "Testy"}},
		map[string]any{"bId": "2", "operation": "create", "Customer": rawCerboPatient()},
		map[string]any{"bId": "3", "operation": "update", "Customer": map[string]any{"Id": "7", "SyncToken": "0", "sparse": true, "FamilyName": "Dummy"}},
		map[string]any{"bId": "4", "operation": "update", "Customer": map[string]any{"GivenName": "No Id"}},
	}
	r := a.do(http.MethodPost, batchPath+"&requestid=b-1", map[string]any{"BatchItemRequest": items})
	var out batchResponse
	r.decode(t, &out)
	if r.status != http.StatusOK || len(out.Items) != 4 {
		t.Fatalf("batch = %d %s", r.status, r.body)
	}
	for i, wantWritten := range []bool{true, false, true, false} {
		item := out.Items[i]
		if item.BID != strconv.Itoa(i+1) || (item.Customer != nil) != wantWritten || (item.Fault != nil) == wantWritten {
			t.Errorf("item %d = %+v, want written %v", i, item, wantWritten)
		}
	}
	// The refused raw patient is answered with the fault quickbooks.Refusal gives for it.
	_, want := quickbooks.Refusal(customerDefinition(t).Check(mustJSON(t, rawCerboPatient())))
	var got quickbooks.Fault
	if err := json.Unmarshal([]byte(`{"Fault":`+string(*out.Items[1].Fault)+`}`), &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustJSON(t, got), want) {
		t.Errorf("item 2 fault = %s\nwant %s", mustJSON(t, got), want)
	}
	wantNoValue(t, r.body, clinicalValues(rawCerboPatient())...)
	if again := a.do(http.MethodPost, batchPath+"&requestid=b-1", map[string]any{"BatchItemRequest": items}); !bytes.Equal(again.body, r.body) {
		t.Errorf("a repeated batch requestid was not answered with the first answer")
	}
	if s := q.Stats(); s.Created != 1 || s.Updated != 1 || s.Replayed != 1 || s.Duplicates != 0 {
		t.Errorf("stats = %+v, want 1 created, 1 updated, 1 replayed", s)
	}

	var tooMany []any
	for i := range quickbooks.MaxBatchItems + 1 {
		tooMany = append(tooMany, map[string]any{"bId": strconv.Itoa(i), "operation": "create", "Customer": map[string]any{"GivenName": fmt.Sprint("Testy", i)}})
	}
	if r := a.do(http.MethodPost, batchPath, map[string]any{"BatchItemRequest": tooMany}); r.status != http.StatusBadRequest {
		t.Errorf("31 items = %d %s, want 400", r.status, r.body)
	}
	if r := a.do(http.MethodPost, batchPath, map[string]any{"BatchItemRequest": tooMany[:30]}); r.status != http.StatusOK {
		t.Errorf("30 items = %d %s, want 200", r.status, r.body)
	}
	if s := q.Stats(); s.Created != 31 {
		t.Errorf("stats = %+v, want 31 created", s)
	}
}

// TestQuickBooksThrottlesBatchesPastTheirOwnRate: batch requests have their own, lower limit.
func TestQuickBooksThrottlesBatchesPastTheirOwnRate(t *testing.T) {
	q, a := newQuickBooks(t)
	q.BatchRateLimit = contract.RateLimit{Requests: 2, Per: time.Minute}
	body := func(i int) map[string]any {
		return map[string]any{"BatchItemRequest": []any{map[string]any{"bId": "1", "operation": "create", "Customer": map[string]any{"GivenName": fmt.Sprint("Testy", i)}}}}
	}
	for i := range 2 {
		if r := a.do(http.MethodPost, batchPath, body(i)); r.status != http.StatusOK {
			t.Fatalf("batch %d = %d %s", i, r.status, r.body)
		}
	}
	if r := a.do(http.MethodPost, batchPath, body(2)); r.status != http.StatusTooManyRequests {
		t.Fatalf("third batch = %d %s, want 429", r.status, r.body)
	}
	if r := a.do(http.MethodPost, customerPath, map[string]any{"GivenName": "Single"}); r.status != http.StatusOK {
		t.Fatalf("a single write past the batch limit = %d %s, want 200", r.status, r.body)
	}
	if s := q.Stats(); s.Throttled != 1 || s.Created != 3 {
		t.Errorf("stats = %+v", s)
	}
}

// TestQuickBooksReadsCustomersByID answers the query a batch update reads SyncTokens with.
func TestQuickBooksReadsCustomersByID(t *testing.T) {
	_, a := newQuickBooks(t,
		map[string]any{"Id": "1", "SyncToken": "4", "DisplayName": "A", "MetaData": map[string]any{"LastUpdatedTime": "2026-01-01T00:00:00Z"}},
		map[string]any{"Id": "2", "SyncToken": "0", "DisplayName": "B", "MetaData": map[string]any{"LastUpdatedTime": "2026-01-01T00:00:00Z"}},
		map[string]any{"Id": "3", "SyncToken": "1", "DisplayName": "C", "MetaData": map[string]any{"LastUpdatedTime": "2026-01-01T00:00:00Z"}})
	r := a.do(http.MethodGet, "/v3/company/"+realm+"/query?query="+urlQuery("select * from Customer where Id in ('3', '1', '9') MAXRESULTS 3"), nil)
	var out struct {
		QueryResponse struct {
			Customer []struct{ Id, SyncToken string } `json:"Customer"`
		} `json:"QueryResponse"`
	}
	r.decode(t, &out)
	if got := fmt.Sprint(out.QueryResponse.Customer); r.status != http.StatusOK || got != "[{3 1} {1 4}]" {
		t.Errorf("query = %d %s, want customers 3 and 1 with their SyncTokens", r.status, r.body)
	}
}
