package fakesystem

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/connector/gohighlevel"
)

// goHighLevelMaxPageLimit is the search's largest page.
const goHighLevelMaxPageLimit = 500

// GoHighLevel is the contacts of one GoHighLevel location (API v2, Version 2021-07-28), behind
// Tokens with the Bearer scheme:
//
//	POST /contacts/search {"locationId", "pageLimit", "searchAfter", "filters", "sort"}
//	     -> {"contacts": [{..., "searchAfter": [<ms>, "<id>"]}], "total": n}
//	POST /contacts/upsert <UpsertContactDto>   -> {"new": bool, "contact": {...}}
//	PUT  /contacts/{id}   <UpdateContactDto>   -> {"succeded": true, "contact": {...}}
//
// Bodies are checked against the contact definition kept in internal/connector/gohighlevel/testdata
// (gohighlevel.ContactDefinition; an update takes the same properties but locationId) and refused
// with 422 (gohighlevel.Refusal): an undeclared property, no locationId, neither email nor phone.
// An upsert updates the location's contact with the same email, else the same phone, else creates
// one. The search understands one filter, dateUpdated with operator range (gt, gte, lt, lte), and
// sorting by dateUpdated or dateAdded; anything else is refused with 422, not ignored.
//
// Every answer carries the X-RateLimit-* headers; past RateLimit (default gohighlevel.RateLimit,
// 100 requests per 10 seconds) a call is answered 429.
type GoHighLevel struct {
	Location string
	Tokens   *Tokens
	// RateLimit replaces the published limit; tests shorten the window to stay fast.
	RateLimit contract.RateLimit
	// Latency holds every answer this long, so calls overlap as they do against a remote API.
	Latency time.Duration

	upsertDefinition, updateDefinition *contract.Definition
	throttle                           throttle
	stats                              counter

	mu       sync.Mutex
	contacts []map[string]any
	// index finds contacts by id, and by email and phone as the upsert matches them (any case).
	index  *propertyIndex
	lastID int
}

// NewGoHighLevel serves the given contacts of location, each with a string "id" and RFC 3339
// "dateAdded" and "dateUpdated". It panics if the kept contact definition does not parse, which a
// test of the gohighlevel package rules out.
func NewGoHighLevel(location string, tokens *Tokens, contacts ...map[string]any) *GoHighLevel {
	upsert, err := gohighlevel.ContactDefinition()
	if err != nil {
		panic(err)
	}
	g := &GoHighLevel{Location: location, Tokens: tokens, upsertDefinition: upsert, updateDefinition: GoHighLevelUpdateDefinition(upsert),
		index: newPropertyIndex(true, "id", "email", "phone")}
	for _, c := range contacts {
		g.contacts = append(g.contacts, maps.Clone(c))
		g.index.add(len(g.contacts)-1, g.contacts[len(g.contacts)-1])
	}
	return g
}

// GoHighLevelUpdateDefinition is the body of PUT /contacts/{id}, derived from the upsert's: the
// same properties but locationId (a contact already belongs to one), none of them required.
func GoHighLevelUpdateDefinition(upsert *contract.Definition) *contract.Definition {
	body := *upsert.Body
	body.Properties = maps.Clone(body.Properties)
	delete(body.Properties, "locationId")
	body.Required, body.AnyOf = nil, nil
	d := *upsert
	d.Entity, d.Body = "UpdateContactDto", &body
	return &d
}

// Stats are the fake's counters.
func (g *GoHighLevel) Stats() Stats { return g.stats.get() }

// Contacts returns a copy of every contact.
func (g *GoHighLevel) Contacts() []map[string]any {
	g.mu.Lock()
	defer g.mu.Unlock()
	return cloneAll(g.contacts)
}

func (g *GoHighLevel) limit() contract.RateLimit {
	return orPublished(g.RateLimit, gohighlevel.RateLimit)
}

func ghlError(status int, message string) answer {
	return jsonAnswer(status, map[string]any{"statusCode": status, "message": message})
}

func (g *GoHighLevel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.Tokens.Authorize(w, r, "Bearer") {
		return
	}
	limit, now := g.limit(), time.Now()
	release, retryIn, ok := g.throttle.admit(limit, now)
	h := w.Header()
	h.Set("X-RateLimit-Max", strconv.Itoa(limit.Requests))
	h.Set("X-RateLimit-Interval-Milliseconds", strconv.FormatInt(limit.Per.Milliseconds(), 10))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(g.throttle.remaining(now)))
	if !ok {
		g.stats.add(func(s *Stats) { s.Throttled++ })
		h.Set("Retry-After", strconv.Itoa(int((retryIn+time.Second-1)/time.Second)))
		ghlError(http.StatusTooManyRequests, "Too Many Requests").write(w)
		return
	}
	defer release()
	g.stats.add(func(s *Stats) { s.Requests++ })
	if r.Header.Get("Version") != gohighlevel.APIVersion {
		ghlError(http.StatusBadRequest, "Version header was not found").write(w)
		return
	}
	pause(g.Latency)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		ghlError(http.StatusBadRequest, "Bad Request").write(w)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch id, isContact := strings.CutPrefix(r.URL.Path, "/contacts/"); {
	case r.Method == http.MethodPost && r.URL.Path == "/contacts/search":
		g.search(body).write(w)
	case r.Method == http.MethodPost && r.URL.Path == "/contacts/upsert":
		g.upsert(body).write(w)
	case r.Method == http.MethodPut && isContact && id != "" && !strings.Contains(id, "/"):
		g.update(id, body).write(w)
	default:
		ghlError(http.StatusNotFound, "Cannot "+r.Method+" "+r.URL.Path).write(w)
	}
}

// refuse answers violations with GoHighLevel's 422.
func (g *GoHighLevel) refuse(violations []contract.Violation) answer {
	g.stats.add(func(s *Stats) { s.Refused++ })
	status, out := gohighlevel.Refusal(violations)
	return answer{status: status, body: out}
}

func (g *GoHighLevel) upsert(raw []byte) answer {
	if v := g.upsertDefinition.Check(raw); len(v) > 0 {
		return g.refuse(v)
	}
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	if body["locationId"] != g.Location {
		return ghlError(http.StatusForbidden, "The token does not have access to this location")
	}
	var match map[string]any
	at := -1
	for _, key := range []string{"email", "phone"} {
		if v, _ := body[key].(string); v != "" && match == nil {
			if i := g.index.first(key, v); i >= 0 {
				match, at = g.contacts[i], i
			}
		}
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	created := match == nil
	if created {
		g.lastID++
		match = map[string]any{"id": fmt.Sprintf("ghl%09d", g.lastID), "dateAdded": now}
		g.contacts = append(g.contacts, match)
		at = len(g.contacts) - 1
		g.stats.add(func(s *Stats) { s.Created++ })
	} else {
		g.stats.add(func(s *Stats) { s.Updated++ })
	}
	id, added := match["id"], match["dateAdded"]
	maps.Copy(match, body)
	match["id"], match["dateAdded"], match["dateUpdated"] = id, added, now
	g.index.reindex(at, match)
	return jsonAnswer(http.StatusOK, map[string]any{"new": created, "contact": match, "traceId": fmt.Sprintf("trace-%d", g.lastID)})
}

func (g *GoHighLevel) update(id string, raw []byte) answer {
	if v := g.updateDefinition.Check(raw); len(v) > 0 {
		return g.refuse(v)
	}
	i := g.index.first("id", id)
	if i < 0 {
		return ghlError(http.StatusBadRequest, "Contact not found")
	}
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	c := g.contacts[i]
	maps.Copy(c, body)
	c["id"], c["dateUpdated"] = id, time.Now().UTC().Format(time.RFC3339Nano)
	g.index.reindex(i, c)
	g.stats.add(func(s *Stats) { s.Updated++ })
	return jsonAnswer(http.StatusOK, map[string]any{"succeded": true, "contact": c})
}

// ghlSearch is the part of the search body (SearchBodyV2DTO) the fake understands.
type ghlSearch struct {
	LocationID  string `json:"locationId"`
	PageLimit   int    `json:"pageLimit"`
	SearchAfter []any  `json:"searchAfter"`
	Filters     []struct {
		Field    string            `json:"field"`
		Operator string            `json:"operator"`
		Value    map[string]string `json:"value"`
	} `json:"filters"`
	Sort []struct {
		Field     string `json:"field"`
		Direction string `json:"direction"`
	} `json:"sort"`
}

func (g *GoHighLevel) search(raw []byte) answer {
	var s ghlSearch
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		return ghlError(http.StatusUnprocessableEntity, "the search body is not one this fake understands: "+err.Error())
	}
	if s.LocationID != g.Location {
		return ghlError(http.StatusForbidden, "The token does not have access to this location")
	}
	if s.PageLimit == 0 {
		s.PageLimit = 20
	}
	if s.PageLimit < 1 || s.PageLimit > goHighLevelMaxPageLimit {
		return ghlError(http.StatusUnprocessableEntity, "pageLimit must not be greater than 500")
	}
	sortField, desc := "dateAdded", true
	if len(s.Sort) > 1 {
		return ghlError(http.StatusUnprocessableEntity, "sort: the fake sorts by one field")
	}
	for _, o := range s.Sort {
		if o.Field != "dateAdded" && o.Field != "dateUpdated" || o.Direction != "asc" && o.Direction != "desc" {
			return ghlError(http.StatusUnprocessableEntity, "sort: field must be dateAdded or dateUpdated, direction asc or desc")
		}
		sortField, desc = o.Field, o.Direction == "desc"
	}
	matching := slices.Clone(g.contacts)
	for _, f := range s.Filters {
		if f.Field != "dateUpdated" || f.Operator != "range" {
			return ghlError(http.StatusUnprocessableEntity, "filters: only dateUpdated with operator range is served by this fake")
		}
		for op, v := range f.Value {
			at, err := time.Parse(time.RFC3339Nano, v)
			if err != nil || !slices.Contains([]string{"gt", "gte", "lt", "lte"}, op) {
				return ghlError(http.StatusUnprocessableEntity, "filters: range takes gt, gte, lt or lte with an ISO 8601 time")
			}
			matching = slices.DeleteFunc(matching, func(c map[string]any) bool {
				cmp := ghlTime(c, "dateUpdated").Compare(at)
				return !map[string]bool{"gt": cmp > 0, "gte": cmp >= 0, "lt": cmp < 0, "lte": cmp <= 0}[op]
			})
		}
	}
	// The keyset is the sort value in milliseconds and the id, as the API's searchAfter.
	key := func(c map[string]any) (int64, string) { return ghlTime(c, sortField).UnixMilli(), fmt.Sprint(c["id"]) }
	compare := func(a, b map[string]any) int {
		am, aid := key(a)
		bm, bid := key(b)
		c := cmp.Compare(am, bm)
		if c == 0 {
			c = strings.Compare(aid, bid)
		}
		if desc {
			return -c
		}
		return c
	}
	slices.SortStableFunc(matching, compare)
	total := len(matching)
	if len(s.SearchAfter) > 0 {
		ms, err := strconv.ParseInt(fmt.Sprint(s.SearchAfter[0]), 10, 64)
		if len(s.SearchAfter) != 2 || err != nil {
			return ghlError(http.StatusUnprocessableEntity, "searchAfter must be the searchAfter of a contact of the previous page")
		}
		after := map[string]any{sortField: time.UnixMilli(ms).UTC().Format(time.RFC3339Nano), "id": fmt.Sprint(s.SearchAfter[1])}
		matching = slices.DeleteFunc(matching, func(c map[string]any) bool { return compare(c, after) <= 0 })
	}
	page := make([]map[string]any, 0, s.PageLimit)
	for _, c := range matching[:min(s.PageLimit, len(matching))] {
		out := maps.Clone(c)
		ms, id := key(c)
		out["searchAfter"] = []any{ms, id}
		page = append(page, out)
	}
	return jsonAnswer(http.StatusOK, map[string]any{"contacts": page, "total": total})
}

func ghlTime(c map[string]any, field string) time.Time {
	s, _ := c[field].(string)
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}
