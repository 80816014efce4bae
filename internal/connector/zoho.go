package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	zohocrm "github.com/tenantwire/tenantwire/internal/connector/zoho"
)

const (
	// zohoTokenURL is the US data centre's; other regions (accounts.zoho.eu, .in, .com.au, ...) set
	// a token_url credential file.
	zohoTokenURL = "https://accounts.zoho.com/oauth/v2/token"
	// zohoOverlap widens If-Modified-Since, which is exclusive and has whole seconds, so a contact
	// changed in the same second as a scan's newest one is not skipped.
	zohoOverlap = time.Second
	// zohoContacts is the Contacts module's path under the API version the codec follows.
	zohoContacts = "/crm/" + zohocrm.APIVersion + "/Contacts"
)

// zoho is Zoho CRM's REST API v8 (base URL https://www.zohoapis.com or a region's). Records are
// Contacts, encoded and decoded by internal/connector/zoho; credential files are the OAuth2 ones
// (client_id, client_secret, refresh_token, optional token_url):
//
//	GET  {base}/crm/v8/Contacts?fields=<the API names the codec maps>&per_page=<n>
//	     &sort_by=Modified_Time&sort_order=desc&page=<1..10> | &page_token=<info.next_page_token>
//	     If-Modified-Since: <RFC 3339>
//	     -> {"data": [{"id": "...", "Modified_Time": "...", ...}],
//	         "info": {"more_records": true, "next_page_token": "..."}}  or 204/304 when nothing changed
//	POST {base}/crm/v8/Contacts/upsert {"data": [{...}], "duplicate_check_fields": ["Email"]}  (create)
//	PUT  {base}/crm/v8/Contacts/{id}   {"data": [{...}]}                                      (update)
//	     -> {"data": [{"code": "SUCCESS", "status": "success", "details": {"id": "..."}}]}
//	        or per record {"code": "INVALID_DATA", "status": "error", "details": {"api_name": "Email"}}
//
// Page numbers reach the first 2,000 records; a scan with more goes on with the page token of the
// tenth page. The ID of the record in the source system is never sent: a create lets Zoho choose
// the ID, an update names the Zoho ID in the URL. The Authorization scheme is Zoho's own
// "Zoho-oauthtoken"; the token endpoint takes the client credentials as form parameters.
type zoho struct {
	api      *apiClient
	pageSize int
	fields   string
}

// zohoCursor is a scan (scanCursor, whose Pos counts the pages read) and, past the pages that
// page numbers reach, the page token that continues it.
type zohoCursor struct {
	scanCursor
	Token string `json:"t,omitempty"`
}

func newZoho(base *url.URL, creds Credentials, httpClient *http.Client, o Options) (*zoho, error) {
	auth, err := newOAuthAuth(SystemZoho, creds,
		oauthEndpoint{tokenURL: zohoTokenURL, authStyle: oauth2.AuthStyleInParams, scheme: "Zoho-oauthtoken"}, httpClient, o)
	if err != nil {
		return nil, err
	}
	api := newAPIClient(SystemZoho, base, httpClient, auth, o)
	api.errorCode = zohoErrorCode
	return &zoho{api: api, pageSize: o.pageSize(zohocrm.MaxPerPage), fields: strings.Join(zohocrm.ListFields(), ",")}, nil
}

func (z *zoho) System() string { return SystemZoho }

func (z *zoho) Changes(ctx context.Context, cursor string) (Page, error) {
	var cur zohoCursor
	if err := decodeCursor(SystemZoho, cursor, &cur); err != nil {
		return Page{}, err
	}
	q := url.Values{
		"fields":     {z.fields},
		"per_page":   {strconv.Itoa(z.pageSize)},
		"sort_by":    {"Modified_Time"},
		"sort_order": {"desc"},
	}
	if cur.Token != "" {
		q.Set("page_token", cur.Token)
	} else {
		q.Set("page", strconv.Itoa(cur.Pos+1))
	}
	header := http.Header{}
	if !cur.Since.IsZero() {
		header.Set("If-Modified-Since", cur.Since.Format(time.RFC3339))
	}
	var out struct {
		Data []json.RawMessage `json:"data"`
		Info struct {
			MoreRecords   bool   `json:"more_records"`
			NextPageToken string `json:"next_page_token"`
		} `json:"info"`
	}
	_, err := z.api.do(ctx, call{op: "list contacts", method: http.MethodGet, path: zohoContacts, query: q, header: header, out: &out})
	if cur.Token != "" && zohoPageTokenLapsed(err) {
		// A page token lives for a day; a scan resumed later starts its pages again under the same
		// bound, which repeats records but skips none.
		z.api.log.Info("the page token of an interrupted scan has lapsed; reading the scan again from its first page")
		return Page{Next: encodeCursor(zohoCursor{scanCursor: scanCursor{Since: cur.Since, Max: cur.Max}}), More: true}, nil
	}
	if err != nil {
		return Page{}, err
	}
	records := make([]Record, 0, len(out.Data))
	for _, raw := range out.Data {
		p, err := zohocrm.Decode(raw)
		if err != nil {
			return Page{}, fmt.Errorf("connector: %s: list contacts: %w", SystemZoho, err)
		}
		records = append(records, Record{ID: p.Source.ID, PatientID: p.Source.ID, UpdatedAt: p.UpdatedAt, Patient: p})
	}
	more := out.Info.MoreRecords && len(records) > 0
	next := zohoCursor{scanCursor: cur.next(records, 1, more, zohoOverlap)}
	if more && (cur.Token != "" || next.Pos >= zohocrm.MaxPages) {
		if out.Info.NextPageToken == "" {
			return Page{}, fmt.Errorf("connector: %s: list contacts: more records follow the first %d pages, but the answer has no next_page_token", SystemZoho, zohocrm.MaxPages)
		}
		next.Token = out.Info.NextPageToken
	}
	return Page{Records: records, Next: encodeCursor(next), More: more}, nil
}

// zohoPageTokenLapsed says Zoho refused a page token as expired or as issued for another query.
func zohoPageTokenLapsed(err error) bool {
	var status *StatusError
	if !errors.As(err, &status) || status.Status != http.StatusBadRequest {
		return false
	}
	return strings.HasPrefix(status.Code, "EXPIRED_VALUE") || strings.HasPrefix(status.Code, "TOKEN_BOUND_DATA_MISMATCH")
}

// zohoResult is one record's outcome in Zoho's write answers.
type zohoResult struct {
	Code    string `json:"code"`
	Status  string `json:"status"`
	Details struct {
		ID      string `json:"id"`
		APIName string `json:"api_name"`
	} `json:"details"`
}

// Upsert creates a Contact for a patient the destination does not know yet (or updates the one
// with the same email address, Zoho's duplicate check), or updates the Contact with Zoho ID id.
// Both send only what the codec encodes of the patient the runtime authorized.
func (z *zoho) Upsert(ctx context.Context, id string, r Record) (string, error) {
	if id != "" {
		return id, z.write(ctx, "update contact", http.MethodPut, zohoContacts+"/"+url.PathEscape(id), zohocrm.NewUpdate(r.Patient), nil)
	}
	body, err := zohocrm.NewUpsert(r.Patient)
	if err != nil {
		return "", codecRejection(SystemZoho, "upsert contact", err)
	}
	var written string
	if err := z.write(ctx, "upsert contact", http.MethodPost, zohoContacts+"/upsert", body, &written); err != nil {
		return "", err
	}
	if written == "" {
		return "", missingIDError(SystemZoho, "upsert contact")
	}
	return written, nil
}

// write sends a one-record body and reads the record's outcome; written, when not nil, receives
// the record's ID.
func (z *zoho) write(ctx context.Context, op, method, path string, body zohocrm.Body, written *string) error {
	var out struct {
		Data []zohoResult `json:"data"`
	}
	if _, err := z.api.do(ctx, call{op: op, method: method, path: path, body: body, out: &out}); err != nil {
		return err
	}
	if len(out.Data) == 0 {
		return fmt.Errorf("connector: %s: %s: the answer has no record result", SystemZoho, op)
	}
	// Zoho answers a multi-record body with 2xx and puts a record's rejection in its result.
	if res := out.Data[0]; res.Status != "success" {
		return &RejectedError{System: SystemZoho, Op: op, Code: joinCode(res.Code, res.Details.APIName)}
	}
	if written != nil {
		*written = out.Data[0].Details.ID
	}
	return nil
}

func zohoErrorCode(body []byte) string {
	var out struct {
		Data []zohoResult `json:"data"`
	}
	if json.Unmarshal(body, &out) == nil && len(out.Data) > 0 {
		return joinCode(out.Data[0].Code, out.Data[0].Details.APIName)
	}
	return errorCodeOf(body, "code")
}
