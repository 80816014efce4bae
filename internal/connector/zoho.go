package connector

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/oauth2"
)

const (
	// zohoTokenURL is the US data centre's; other regions (accounts.zoho.eu, .in, .com.au, ...) set
	// a token_url credential file.
	zohoTokenURL = "https://accounts.zoho.com/oauth/v2/token"
	// zohoMaxPageSize is per_page's upper bound.
	zohoMaxPageSize = 200
	// zohoOverlap widens If-Modified-Since, which is exclusive and has whole seconds, so a contact
	// changed in the same second as a scan's newest one is not skipped.
	zohoOverlap = time.Second
)

// zohoDuplicateCheckFields decide whether an upsert without an ID updates an existing contact.
var zohoDuplicateCheckFields = []string{"Email"}

// zoho is Zoho CRM's REST API v2 (base URL https://www.zohoapis.com or a region's). Records are
// Contacts; credential files are the OAuth2 ones (client_id, client_secret, refresh_token,
// optional token_url):
//
//	GET  {base}/crm/v2/Contacts?page=<1-based>&per_page=<n>&sort_by=Modified_Time&sort_order=desc
//	     If-Modified-Since: <RFC 3339>
//	     -> {"data": [{"id": "...", "Modified_Time": "...", ...}], "info": {"more_records": true}}
//	        or 204/304 when nothing changed
//	POST {base}/crm/v2/Contacts/upsert {"data": [{...}], "duplicate_check_fields": ["Email"]}
//	     -> {"data": [{"code": "SUCCESS", "status": "success", "details": {"id": "..."}}]}
//	        or per record {"code": "INVALID_DATA", "status": "error", "details": {"api_name": "Email"}}
//
// The Authorization scheme is Zoho's own "Zoho-oauthtoken"; the token endpoint takes the client
// credentials as form parameters.
type zoho struct {
	api      *apiClient
	pageSize int
}

func newZoho(base *url.URL, creds Credentials, httpClient *http.Client, o Options) (*zoho, error) {
	auth, err := newOAuthAuth(SystemZoho, creds,
		oauthEndpoint{tokenURL: zohoTokenURL, authStyle: oauth2.AuthStyleInParams, scheme: "Zoho-oauthtoken"}, httpClient, o)
	if err != nil {
		return nil, err
	}
	api := newAPIClient(SystemZoho, base, httpClient, auth, o)
	api.errorCode = zohoErrorCode
	return &zoho{api: api, pageSize: o.pageSize(zohoMaxPageSize)}, nil
}

func (z *zoho) System() string { return SystemZoho }

func (z *zoho) Changes(ctx context.Context, cursor string) (Page, error) {
	var cur scanCursor
	if err := decodeCursor(SystemZoho, cursor, &cur); err != nil {
		return Page{}, err
	}
	q := url.Values{
		"page":       {strconv.Itoa(cur.Pos + 1)},
		"per_page":   {strconv.Itoa(z.pageSize)},
		"sort_by":    {"Modified_Time"},
		"sort_order": {"desc"},
	}
	header := http.Header{}
	if !cur.Since.IsZero() {
		header.Set("If-Modified-Since", cur.Since.Format(time.RFC3339))
	}
	var out struct {
		Data []map[string]any `json:"data"`
		Info struct {
			MoreRecords bool `json:"more_records"`
		} `json:"info"`
	}
	if _, err := z.api.do(ctx, call{op: "list contacts", method: http.MethodGet, path: "/crm/v2/Contacts", query: q, header: header, out: &out}); err != nil {
		return Page{}, err
	}
	records := make([]Record, 0, len(out.Data))
	for _, c := range out.Data {
		records = append(records, recordOf(c, "id", timeField(c, "Modified_Time")))
	}
	more := out.Info.MoreRecords && len(records) > 0
	return Page{Records: records, Next: encodeCursor(cur.next(records, 1, more, zohoOverlap)), More: more}, nil
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

func (z *zoho) Upsert(ctx context.Context, id string, r Record) (string, error) {
	contact := r.Fields
	if id != "" {
		contact = fieldsWith(r.Fields, map[string]any{"id": id})
	}
	body := map[string]any{"data": []any{contact}, "duplicate_check_fields": zohoDuplicateCheckFields}
	var out struct {
		Data []zohoResult `json:"data"`
	}
	if _, err := z.api.do(ctx, call{op: "upsert contact", method: http.MethodPost, path: "/crm/v2/Contacts/upsert", body: body, out: &out}); err != nil {
		return "", err
	}
	if len(out.Data) == 0 {
		return "", missingIDError(SystemZoho, "upsert contact")
	}
	// Zoho may answer a batch with 2xx and put a record's rejection in its result.
	if res := out.Data[0]; res.Status != "success" {
		return "", &RejectedError{System: SystemZoho, Op: "upsert contact", Code: joinCode(res.Code, res.Details.APIName)}
	}
	if out.Data[0].Details.ID == "" {
		return "", missingIDError(SystemZoho, "upsert contact")
	}
	return out.Data[0].Details.ID, nil
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
