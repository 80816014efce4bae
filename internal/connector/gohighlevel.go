package connector

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"golang.org/x/oauth2"
)

// GoHighLevel's credential files besides the OAuth2 ones (client_id, client_secret,
// refresh_token, optional token_url): the sub-account (location) whose contacts are synced.
const credGoHighLevelLocationID = "location_id"

const (
	goHighLevelTokenURL = "https://services.leadconnectorhq.com/oauth/token"
	// goHighLevelAPIVersion is the Version header every LeadConnector API v2 call must carry.
	goHighLevelAPIVersion = "2021-07-28"
	// goHighLevelMaxPageSize is limit's upper bound.
	goHighLevelMaxPageSize = 100
)

// goHighLevel is the LeadConnector API v2 of GoHighLevel (base URL
// https://services.leadconnectorhq.com). Records are contacts of one location:
//
//	GET  {base}/contacts/?locationId=<loc>&limit=<n>&startAfterId=<id>&startAfter=<ms>
//	     -> {"contacts": [{"id": "...", "dateUpdated": "...", ...}],
//	         "meta": {"startAfterId": "...", "startAfter": 1700000000000, "total": 250}}
//	POST {base}/contacts/upsert {"locationId": "...", ...}  (create, or match by email/phone)
//	     -> {"new": true, "contact": {"id": "..."}}
//	PUT  {base}/contacts/{id}                              (update) -> {"contact": {"id": "..."}}
//
// The listing walks contacts in creation order with the keyset the API returns, so it sees new
// contacts; changes to contacts already passed are not listed by this endpoint. Rate limits come
// as X-RateLimit-Remaining and X-RateLimit-Interval-Milliseconds; a 429 without Retry-After waits
// for the interval.
type goHighLevel struct {
	api      *apiClient
	location string
	pageSize int
}

// goHighLevelCursor is the keyset of the next page, as the API's meta returned it.
type goHighLevelCursor struct {
	AfterID string `json:"i,omitempty"`
	After   int64  `json:"a,omitempty"`
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
	api.header.Set("Version", goHighLevelAPIVersion)
	api.rateLimitWait = goHighLevelRateLimitWait
	return &goHighLevel{api: api, location: creds.value(credGoHighLevelLocationID), pageSize: o.pageSize(goHighLevelMaxPageSize)}, nil
}

func (g *goHighLevel) System() string { return SystemGoHighLevel }

func (g *goHighLevel) Changes(ctx context.Context, cursor string) (Page, error) {
	var cur goHighLevelCursor
	if err := decodeCursor(SystemGoHighLevel, cursor, &cur); err != nil {
		return Page{}, err
	}
	q := url.Values{"locationId": {g.location}, "limit": {strconv.Itoa(g.pageSize)}}
	if cur.AfterID != "" {
		q.Set("startAfterId", cur.AfterID)
		q.Set("startAfter", strconv.FormatInt(cur.After, 10))
	}
	var out struct {
		Contacts []map[string]any `json:"contacts"`
		Meta     struct {
			StartAfterID string `json:"startAfterId"`
			StartAfter   int64  `json:"startAfter"`
		} `json:"meta"`
	}
	resp, err := g.api.do(ctx, call{op: "list contacts", method: http.MethodGet, path: "/contacts/", query: q, out: &out})
	if err != nil {
		return Page{}, err
	}
	if remaining := resp.header.Get("X-RateLimit-Remaining"); remaining != "" {
		g.api.log.V(1).Info("rate limit", "remaining", remaining)
	}
	records := make([]Record, 0, len(out.Contacts))
	for _, c := range out.Contacts {
		updated := timeField(c, "dateUpdated")
		if updated.IsZero() {
			updated = timeField(c, "dateAdded")
		}
		records = append(records, recordOf(c, "id", updated))
	}
	next := cur
	if out.Meta.StartAfterID != "" && len(records) > 0 {
		next = goHighLevelCursor{AfterID: out.Meta.StartAfterID, After: out.Meta.StartAfter}
	}
	more := len(records) == g.pageSize && next != cur
	return Page{Records: records, Next: encodeCursor(next), More: more}, nil
}

func (g *goHighLevel) Upsert(ctx context.Context, id string, r Record) (string, error) {
	var out struct {
		Contact map[string]any `json:"contact"`
	}
	if id != "" {
		// The update endpoint refuses locationId: the contact already belongs to one.
		body := fieldsWith(r.Fields, nil)
		delete(body, "locationId")
		_, err := g.api.do(ctx, call{op: "update contact", method: http.MethodPut, path: "/contacts/" + url.PathEscape(id), body: body, out: &out})
		return id, err
	}
	body := fieldsWith(r.Fields, map[string]any{"locationId": g.location})
	if _, err := g.api.do(ctx, call{op: "upsert contact", method: http.MethodPost, path: "/contacts/upsert", body: body, out: &out}); err != nil {
		return "", err
	}
	if written := stringField(out.Contact, "id"); written != "" {
		return written, nil
	}
	return "", missingIDError(SystemGoHighLevel, "upsert contact")
}

// goHighLevelRateLimitWait waits out the burst window when a 429 says no request is left in it.
func goHighLevelRateLimitWait(h http.Header) (time.Duration, bool) {
	ms, err := strconv.ParseInt(h.Get("X-RateLimit-Interval-Milliseconds"), 10, 64)
	if err != nil || ms <= 0 {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}
