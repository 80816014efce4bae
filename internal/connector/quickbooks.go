package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/tenantwire/tenantwire/internal/connector/quickbooks"
)

// QuickBooks' credential files besides the OAuth2 ones (client_id, client_secret, refresh_token,
// optional token_url): the company the app is connected to.
const credQuickBooksRealmID = "realm_id"

const (
	quickBooksTokenURL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
	// quickBooksMaxPageSize is MAXRESULTS' upper bound.
	quickBooksMaxPageSize = 1000
	// quickBooksMinorVersion pins the response shape of the Accounting API: the codec's.
	quickBooksMinorVersion = quickbooks.MinorVersion
)

// quickBooks is the QuickBooks Online Accounting API (base URL https://quickbooks.api.intuit.com,
// or the sandbox's). Records are Customers:
//
//	GET  {base}/v3/company/{realm}/query?query=select * from Customer
//	       where MetaData.LastUpdatedTime >= '<RFC 3339>' ORDERBY MetaData.LastUpdatedTime DESC
//	       STARTPOSITION <1-based> MAXRESULTS <n>
//	     -> {"QueryResponse": {"Customer": [{"Id": "1", "SyncToken": "0", "MetaData": {...}}, ...]}}
//	POST {base}/v3/company/{realm}/customer              (create) -> {"Customer": {"Id": ...}}
//	GET  {base}/v3/company/{realm}/customer/{id}         -> the current SyncToken
//	POST {base}/v3/company/{realm}/customer  {"Id", "SyncToken", "sparse": true, ...} (update)
//	errors: {"Fault": {"Error": [{"code": "6240", "element": "DisplayName", ...}], "type": "ValidationFault"}}
//
// Customers are read and written through the codec in internal/connector/quickbooks, built from
// Intuit's published Customer definition: a read keeps only the properties the codec owns, a
// create carries a name element, and an update is sparse at the current SyncToken, so every
// property the codec does not own (or the practice did not authorize) stays as the company has it.
//
// Tokens come from Intuit's OAuth2 endpoint with the client credentials in a Basic header.
type quickBooks struct {
	api      *apiClient
	realm    string
	pageSize int
}

func newQuickBooks(base *url.URL, creds Credentials, httpClient *http.Client, o Options) (*quickBooks, error) {
	if err := creds.require(SystemQuickBooks, credClientID, credClientSecret, credRefreshToken, credQuickBooksRealmID); err != nil {
		return nil, err
	}
	auth, err := newOAuthAuth(SystemQuickBooks, creds,
		oauthEndpoint{tokenURL: quickBooksTokenURL, authStyle: oauth2.AuthStyleInHeader, scheme: "Bearer"}, httpClient, o)
	if err != nil {
		return nil, err
	}
	api := newAPIClient(SystemQuickBooks, base, httpClient, auth, o)
	api.errorCode = quickBooksErrorCode
	return &quickBooks{api: api, realm: creds.value(credQuickBooksRealmID), pageSize: o.pageSize(quickBooksMaxPageSize)}, nil
}

func (q *quickBooks) System() string { return SystemQuickBooks }

func (q *quickBooks) companyPath(rest string) string {
	return "/v3/company/" + url.PathEscape(q.realm) + rest
}

// changesQuery is the query language statement of one page. Times are quoted literals in the
// query language; the cursor only ever holds times it formatted itself.
func (q *quickBooks) changesQuery(cur scanCursor) string {
	var b strings.Builder
	b.WriteString("select * from Customer")
	if !cur.Since.IsZero() {
		fmt.Fprintf(&b, " where MetaData.LastUpdatedTime >= '%s'", cur.Since.Format(time.RFC3339))
	}
	fmt.Fprintf(&b, " ORDERBY MetaData.LastUpdatedTime DESC STARTPOSITION %d MAXRESULTS %d", cur.Pos+1, q.pageSize)
	return b.String()
}

func (q *quickBooks) Changes(ctx context.Context, cursor string) (Page, error) {
	var cur scanCursor
	if err := decodeCursor(SystemQuickBooks, cursor, &cur); err != nil {
		return Page{}, err
	}
	var out struct {
		QueryResponse struct {
			Customer []answeredCustomer `json:"Customer"`
		} `json:"QueryResponse"`
	}
	query := url.Values{"query": {q.changesQuery(cur)}, "minorversion": {quickBooksMinorVersion}}
	if _, err := q.api.do(ctx, call{op: "query customers", method: http.MethodGet, path: q.companyPath("/query"), query: query, out: &out}); err != nil {
		return Page{}, err
	}
	records := make([]Record, 0, len(out.QueryResponse.Customer))
	for i, c := range out.QueryResponse.Customer {
		if c.ID == "" {
			return Page{}, fmt.Errorf("connector: quickbooks: query customers: customer %d of the page has no Id", cur.Pos+i)
		}
		patient := quickbooks.Decode(c.Customer)
		if t, err := time.Parse(time.RFC3339Nano, c.MetaData.LastUpdatedTime); err == nil {
			patient.UpdatedAt = t.UTC()
		}
		records = append(records, canonicalRecord(patient))
	}
	more := len(records) == q.pageSize
	return Page{Records: records, Next: encodeCursor(cur.next(records, len(records), more, 0)), More: more}, nil
}

// answeredCustomer is a Customer as the API answers it: the codec's properties and the time of
// its last change, which the cursor needs.
type answeredCustomer struct {
	quickbooks.Customer
	MetaData struct {
		LastUpdatedTime string `json:"LastUpdatedTime"`
	} `json:"MetaData"`
}

// customerAnswer is the answer of every Customer call.
type customerAnswer struct {
	Customer quickbooks.Customer `json:"Customer"`
}

// Upsert encodes r.Patient with the codec. A create the codec refuses (no authorized name) is a
// rejection of this record, before any request.
func (q *quickBooks) Upsert(ctx context.Context, id string, r Record) (string, error) {
	minor := url.Values{"minorversion": {quickBooksMinorVersion}}
	op := "create customer"
	var body quickbooks.Customer
	var err error
	if id == "" {
		body, err = quickbooks.NewCustomer(r.Patient)
	} else {
		// A sparse update names only the fields it changes but must carry the current SyncToken,
		// QuickBooks' optimistic lock.
		op = "update customer"
		var current customerAnswer
		if _, err := q.api.do(ctx, call{op: "read customer", method: http.MethodGet, path: q.companyPath("/customer/" + url.PathEscape(id)), query: minor, out: &current}); err != nil {
			return "", err
		}
		body, err = quickbooks.SparseUpdate(r.Patient, id, current.Customer.SyncToken)
	}
	if err != nil {
		return "", fmt.Errorf("connector: quickbooks: %s: %w", op, err)
	}
	if id == "" && r.IdempotencyKey != "" {
		// Intuit answers a repeated requestid with the first request's result instead of creating
		// the customer again.
		minor.Set("requestid", r.IdempotencyKey)
	}
	var out customerAnswer
	if _, err := q.api.do(ctx, call{op: op, method: http.MethodPost, path: q.companyPath("/customer"), query: minor, body: body, out: &out}); err != nil {
		return "", err
	}
	if written := out.Customer.ID; written != "" {
		return written, nil
	}
	return "", missingIDError(SystemQuickBooks, op)
}

// quickBooksFault is the Fault of an error answer, or of a batch item.
type quickBooksFault struct {
	Type  string `json:"type"`
	Error []struct {
		Code    string `json:"code"`
		Element string `json:"element"`
	} `json:"Error"`
}

// code is the first error's code and element, after the fault's type: never a value.
func (f quickBooksFault) code() string {
	if len(f.Error) == 0 {
		return ""
	}
	code := joinCode(f.Error[0].Code, f.Error[0].Element)
	if isCode(f.Type) && code != "" {
		return f.Type + " " + code
	}
	return code
}

func quickBooksErrorCode(body []byte) string {
	var out struct {
		Fault quickBooksFault `json:"Fault"`
	}
	if json.Unmarshal(body, &out) != nil {
		return ""
	}
	return out.Fault.code()
}
