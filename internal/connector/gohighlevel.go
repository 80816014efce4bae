package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/oauth2"

	"github.com/tenantwire/tenantwire/internal/connector/gohighlevel"
)

// GoHighLevel's credential files besides the OAuth2 ones (client_id, client_secret,
// refresh_token, optional token_url): the sub-account (location) whose contacts are synced.
const credGoHighLevelLocationID = "location_id"

const (
	goHighLevelTokenURL = "https://services.leadconnectorhq.com/oauth/token"
	// goHighLevelIndexLag is how far a finished scan's bound is set back: GoHighLevel documents
	// that a change may take a few seconds to reach search results, so a contact changed just
	// before the scan's newest one may appear only after the scan read past it.
	goHighLevelIndexLag = time.Minute
)

// goHighLevel is the LeadConnector API v2 of GoHighLevel (base URL
// https://services.leadconnectorhq.com). Records are contacts of one location, encoded and
// decoded by internal/connector/gohighlevel:
//
//	POST {base}/contacts/search {"locationId": "...", "page": 1, "pageLimit": <n>,
//	     "filters": [{"field": "dateUpdated", "operator": "range", "value": {"gte": "<ISO 8601>"}}],
//	     "sort": [{"field": "dateUpdated", "direction": "asc"}]}
//	     -> {"contacts": [{"id": "...", "dateUpdated": "...", ...}], ...}
//	POST {base}/contacts/upsert {"locationId": "...", ...}  (create, or match by email/phone)
//	     -> {"new": true, "contact": {"id": "..."}}
//	PUT  {base}/contacts/{id} {...}                      (update, without locationId)
//	     -> {"succeded": true, "contact": {"id": "..."}}
//
// The search (the documented replacement of the deprecated GET /contacts/) walks changes oldest
// first. After a full page the next search starts at that page's newest change (inclusive, so a
// contact changed in the same millisecond is read again, not skipped); only a page whose contacts
// all changed at the bound itself moves on by page number. The source's record ID is never sent.
// Rate limits come as X-RateLimit-Remaining and X-RateLimit-Interval-Milliseconds; a 429 without
// Retry-After waits for the interval.
type goHighLevel struct {
	api      *apiClient
	location string
	pageSize int
}

// goHighLevelCursor is the bound of the search (changes at or after Since) and the pages of it
// already read, which stay 0 unless one page's contacts all changed at Since.
type goHighLevelCursor struct {
	Since time.Time `json:"s,omitzero"`
	Page  int       `json:"p,omitempty"`
}

func newGoHighLevel(base *url.URL, creds Credentials, httpClient *http.Client, o Options) (*goHighLevel, error) {
	if err := creds.require(SystemGoHighLevel, credClientID, credClientSecret, credRefreshToken, credGoHighLevelLocationID); err != nil {
		return nil, err
	}
	auth, err := newOAuthAuth(SystemGoHighLevel, creds,
		oauthEndpoint{tokenURL: goHighLevelTokenURL, authStyle: oauth2.AuthStyleInParams, scheme: "Bearer"}, httpClient, o)
	if err != nil {
		return nil, err
	}
	api := newAPIClient(SystemGoHighLevel, base, httpClient, auth, o)
	api.header.Set("Version", gohighlevel.APIVersion)
	api.rateLimitWait = goHighLevelRateLimitWait
	api.errorCode = goHighLevelErrorCode
	return &goHighLevel{api: api, location: creds.value(credGoHighLevelLocationID), pageSize: o.pageSize(gohighlevel.MaxPageLimit)}, nil
}

func (g *goHighLevel) System() string { return SystemGoHighLevel }

func (g *goHighLevel) Changes(ctx context.Context, cursor string) (Page, error) {
	var cur goHighLevelCursor
	if err := decodeCursor(SystemGoHighLevel, cursor, &cur); err != nil {
		return Page{}, err
	}
	var out struct {
		Contacts []json.RawMessage `json:"contacts"`
	}
	body := gohighlevel.NewChangesSearch(g.location, cur.Since, cur.Page+1, g.pageSize)
	resp, err := g.api.do(ctx, call{op: "search contacts", method: http.MethodPost, path: "/contacts/search", body: body, out: &out})
	if err != nil {
		return Page{}, err
	}
	if remaining := resp.header.Get("X-RateLimit-Remaining"); remaining != "" {
		g.api.log.V(1).Info("rate limit", "remaining", remaining)
	}
	records := make([]Record, 0, len(out.Contacts))
	newest := cur.Since
	for _, raw := range out.Contacts {
		p, err := gohighlevel.Decode(raw)
		if err != nil {
			return Page{}, fmt.Errorf("connector: %s: search contacts: %w", SystemGoHighLevel, err)
		}
		records = append(records, Record{ID: p.Source.ID, PatientID: p.Source.ID, UpdatedAt: p.UpdatedAt, Patient: p})
		if p.UpdatedAt.After(newest) {
			newest = p.UpdatedAt
		}
	}
	if len(records) < g.pageSize {
		// The scan is done; the next starts a little before its newest change (see
		// goHighLevelIndexLag), never before its own bound.
		next := goHighLevelCursor{Since: cur.Since}
		if since := newest.Add(-goHighLevelIndexLag); since.After(cur.Since) {
			next.Since = since
		}
		return Page{Records: records, Next: encodeCursor(next), More: false}, nil
	}
	next := goHighLevelCursor{Since: newest}
	if !newest.After(cur.Since) {
		next = goHighLevelCursor{Since: cur.Since, Page: cur.Page + 1}
	}
	return Page{Records: records, Next: encodeCursor(next), More: true}, nil
}

// Upsert creates a patient's contact, or updates the one with the same email or phone (the
// location's duplicate rule), when the destination ID is unknown; it updates contact id
// otherwise. Both send only what the codec encodes of the patient the runtime authorized.
func (g *goHighLevel) Upsert(ctx context.Context, id string, r Record) (string, error) {
	var out struct {
		Contact struct {
			ID string `json:"id"`
		} `json:"contact"`
	}
	if id != "" {
		_, err := g.api.do(ctx, call{op: "update contact", method: http.MethodPut, path: "/contacts/" + url.PathEscape(id),
			body: gohighlevel.NewUpdate(r.Patient), out: &out})
		return id, err
	}
	contact, err := gohighlevel.NewUpsert(r.Patient, g.location)
	if err != nil {
		return "", codecRejection(SystemGoHighLevel, "upsert contact", err)
	}
	if _, err := g.api.do(ctx, call{op: "upsert contact", method: http.MethodPost, path: "/contacts/upsert", body: contact, out: &out}); err != nil {
		return "", err
	}
	if out.Contact.ID == "" {
		return "", missingIDError(SystemGoHighLevel, "upsert contact")
	}
	return out.Contact.ID, nil
}

// goHighLevelErrorCode is the answer's status code and, for a 422, the property it names first;
// GoHighLevel's messages are sentences that may echo values, so no message is kept.
func goHighLevelErrorCode(body []byte) string {
	var out struct {
		StatusCode json.Number `json:"statusCode"`
	}
	if json.Unmarshal(body, &out) != nil || out.StatusCode == "" {
		return ""
	}
	return joinCode(out.StatusCode.String(), gohighlevel.RefusedProperty(body))
}

// goHighLevelRateLimitWait waits out the burst window when a 429 says no request is left in it.
func goHighLevelRateLimitWait(h http.Header) (time.Duration, bool) {
	ms, err := strconv.ParseInt(h.Get("X-RateLimit-Interval-Milliseconds"), 10, 64)
	if err != nil || ms <= 0 {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}
