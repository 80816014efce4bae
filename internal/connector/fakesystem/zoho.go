package fakesystem

import (
	"bytes"
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
	"github.com/tenantwire/tenantwire/internal/connector/zoho"
)

const (
	// ZohoContactsPath is the Contacts module of Zoho CRM's API v8.
	ZohoContactsPath = "/crm/v8/Contacts"
	// zohoMaxPerPage is per_page's upper bound, zohoMaxOffset how far page and per_page reach
	// before a page_token is needed, zohoMaxUpsert the records one upsert may carry.
	zohoMaxPerPage = 200
	zohoMaxOffset  = 2000
	zohoMaxUpsert  = 100
)

// Zoho is the Contacts module of one Zoho CRM organisation (API v8), behind Tokens with Zoho's
// "Zoho-oauthtoken" scheme:
//
//	GET  /crm/v8/Contacts?fields=<API names>&per_page=<≤200>&page=<n>|page_token=<t>&sort_by=Modified_Time&sort_order=desc
//	     [If-Modified-Since: <RFC 3339>]
//	     -> {"data": [{"id", <fields>}], "info": {"more_records", "next_page_token", ...}}, or 204
//	POST /crm/v8/Contacts/upsert {"data": [≤100 records], "duplicate_check_fields": [...]}
//	PUT  /crm/v8/Contacts        {"data": [≤100 records, each with its "id"]}
//	PUT  /crm/v8/Contacts/{id}   {"data": [one record]}
//	     -> {"data": [one result per record]}
//
// "fields" is required and must name fields of the Contacts definition kept in
// internal/connector/zoho/testdata (or Created_Time, Modified_Time); reading past the 2,000th
// record with page instead of page_token is refused, as in v8. An upsert body is checked against
// that definition: a body-level violation refuses the whole request (zoho.Refusal); a record's
// violation is that record's result (INVALID_DATA or MANDATORY_NOT_FOUND) and the other records
// are written. A record with an id updates that contact; one without is matched on the
// duplicate_check_fields (Email when absent) and updates the match or is inserted. The answer is
// 200 when a record was written and 400 when none was. Past RateLimit (default zoho.RateLimit,
// 10 calls in flight) a call gets 429 TOO_MANY_REQUESTS.
type Zoho struct {
	Tokens *Tokens
	// RateLimit replaces the published limit.
	RateLimit contract.RateLimit
	// Latency holds every answer this long, so calls overlap as they do against a remote API.
	Latency time.Duration

	definition *contract.Definition
	fields     []string
	throttle   throttle
	stats      counter

	mu       sync.Mutex
	contacts []map[string]any
	// ids finds contacts by id; duplicates by the duplicate check fields Zoho defines for
	// Contacts (any case). Other check fields take a pass over every contact.
	ids, duplicates *propertyIndex
	lastID          int
	// pageTokens maps each page token handed out to the offset it continues from.
	pageTokens map[string]int
}

// NewZoho serves the given contacts, each with a string "id" and an RFC 3339 "Modified_Time". It
// panics if the kept Contacts definition does not parse, which a test of the zoho package rules out.
func NewZoho(tokens *Tokens, contacts ...map[string]any) *Zoho {
	d, err := zoho.ContactsDefinition()
	if err != nil {
		panic(err)
	}
	z := &Zoho{Tokens: tokens, definition: d, pageTokens: map[string]int{},
		ids: newPropertyIndex(false, "id"), duplicates: newPropertyIndex(true, "Email")}
	z.fields = append(zohoRecordProperties(d), "Created_Time", "Modified_Time")
	for _, c := range contacts {
		z.contacts = append(z.contacts, maps.Clone(c))
		z.ids.add(len(z.contacts)-1, z.contacts[len(z.contacts)-1])
		z.duplicates.add(len(z.contacts)-1, z.contacts[len(z.contacts)-1])
	}
	return z
}

// zohoRecordProperties are the properties a Contacts record may have, from the definition.
func zohoRecordProperties(d *contract.Definition) []string {
	return slices.Sorted(maps.Keys(d.Lookup("data").Items.Properties))
}

// Stats are the fake's counters.
func (z *Zoho) Stats() Stats { return z.stats.get() }

// Contacts returns a copy of every contact.
func (z *Zoho) Contacts() []map[string]any {
	z.mu.Lock()
	defer z.mu.Unlock()
	return cloneAll(z.contacts)
}

func (z *Zoho) limit() contract.RateLimit { return orPublished(z.RateLimit, zoho.RateLimit) }

func zohoError(status int, code, message string, details map[string]any) answer {
	return jsonAnswer(status, map[string]any{"code": code, "details": details, "message": message, "status": "error"})
}

func (z *Zoho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !z.Tokens.Authorize(w, r, "Zoho-oauthtoken") {
		return
	}
	release, _, ok := z.throttle.admit(z.limit(), time.Now())
	if !ok {
		z.stats.add(func(s *Stats) { s.Throttled++ })
		zohoError(http.StatusTooManyRequests, "TOO_MANY_REQUESTS", "concurrency limit exceeded", map[string]any{}).write(w)
		return
	}
	defer release()
	z.stats.add(func(s *Stats) { s.Requests++ })
	pause(z.Latency)
	z.mu.Lock()
	defer z.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == ZohoContactsPath:
		z.list(r).write(w)
	case r.Method == http.MethodPost && r.URL.Path == ZohoContactsPath+"/upsert":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			zohoError(http.StatusBadRequest, "INVALID_DATA", "invalid data", map[string]any{}).write(w)
			return
		}
		z.upsert(body, false).write(w)
	case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, ZohoContactsPath):
		body, err := io.ReadAll(r.Body)
		if err == nil && r.URL.Path != ZohoContactsPath {
			body, err = withRecordID(body, strings.TrimPrefix(r.URL.Path, ZohoContactsPath+"/"))
		}
		if err != nil {
			zohoError(http.StatusBadRequest, "INVALID_DATA", "invalid data", map[string]any{}).write(w)
			return
		}
		z.upsert(body, true).write(w)
	default:
		zohoError(http.StatusNotFound, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one", map[string]any{}).write(w)
	}
}

func (z *Zoho) list(r *http.Request) answer {
	q := r.URL.Query()
	if q.Get("fields") == "" {
		return zohoError(http.StatusBadRequest, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", map[string]any{"param": "fields"})
	}
	fields := strings.Split(q.Get("fields"), ",")
	for _, f := range fields {
		if !slices.Contains(z.fields, f) {
			return zohoError(http.StatusBadRequest, "INVALID_DATA", "invalid data", map[string]any{"api_name": f})
		}
	}
	perPage, page := 200, 1
	if s := q.Get("per_page"); s != "" {
		if n, err := strconv.Atoi(s); err != nil || n < 1 || n > zohoMaxPerPage {
			return zohoError(http.StatusBadRequest, "INVALID_DATA", "invalid data", map[string]any{"param": "per_page"})
		} else {
			perPage = n
		}
	}
	offset := 0
	if token := q.Get("page_token"); token != "" {
		var known bool
		if offset, known = z.pageTokens[token]; !known {
			return zohoError(http.StatusBadRequest, "INVALID_DATA", "invalid data", map[string]any{"param": "page_token"})
		}
	} else {
		if s := q.Get("page"); s != "" {
			if n, err := strconv.Atoi(s); err != nil || n < 1 {
				return zohoError(http.StatusBadRequest, "INVALID_DATA", "invalid data", map[string]any{"param": "page"})
			} else {
				page = n
			}
		}
		offset = (page - 1) * perPage
		if offset+perPage > zohoMaxOffset {
			return zohoError(http.StatusBadRequest, "DISCRETE_PAGINATION_LIMIT_EXCEEDED",
				"cannot fetch more than 2000 records. Please use the page_token for fetching more than 2000 records", map[string]any{})
		}
	}
	var since time.Time
	if s := r.Header.Get("If-Modified-Since"); s != "" {
		var err error
		if since, err = time.Parse(time.RFC3339, s); err != nil {
			return zohoError(http.StatusBadRequest, "INVALID_DATA", "invalid data", map[string]any{"header": "If-Modified-Since"})
		}
	}
	var matching []map[string]any
	for _, c := range z.contacts {
		if modified(c).After(since) {
			matching = append(matching, c)
		}
	}
	desc := q.Get("sort_order") != "asc"
	slices.SortStableFunc(matching, func(a, b map[string]any) int {
		if desc {
			return modified(b).Compare(modified(a))
		}
		return modified(a).Compare(modified(b))
	})
	if offset >= len(matching) {
		return answer{status: http.StatusNoContent}
	}
	var data []map[string]any
	for _, c := range matching[offset:min(offset+perPage, len(matching))] {
		out := map[string]any{"id": c["id"]}
		for _, f := range fields {
			out[f] = c[f]
		}
		data = append(data, out)
	}
	more := offset+perPage < len(matching)
	info := map[string]any{"per_page": perPage, "count": len(data), "page": page, "sort_by": "Modified_Time",
		"sort_order": map[bool]string{true: "desc", false: "asc"}[desc], "more_records": more, "next_page_token": nil, "previous_page_token": nil}
	if more {
		token := fmt.Sprintf("pt-%d", len(z.pageTokens)+1)
		z.pageTokens[token] = offset + perPage
		info["next_page_token"] = token
		info["page_token_expiry"] = time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	}
	return jsonAnswer(http.StatusOK, map[string]any{"data": data, "info": info})
}

// upsert writes an upsert body or, with update, a PUT body whose records each name a Contact by
// its id and change only the fields they carry (so a missing mandatory field is no violation).
func (z *Zoho) upsert(raw []byte, update bool) answer {
	var body struct {
		Data                 []map[string]any `json:"data"`
		DuplicateCheckFields []string         `json:"duplicate_check_fields"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		z.stats.add(func(s *Stats) { s.Refused++ })
		status, out := zoho.Refusal([]contract.Violation{{Kind: contract.WrongType, Path: "data"}})
		return answer{status: status, body: out}
	}
	if len(body.Data) > zohoMaxUpsert {
		z.stats.add(func(s *Stats) { s.Refused++ })
		return zohoError(http.StatusBadRequest, "LIMIT_EXCEEDED", "the number of records exceeds the limit", map[string]any{"limit": zohoMaxUpsert})
	}
	byRecord := map[int][]contract.Violation{}
	var bodyLevel []contract.Violation
	for _, v := range z.definition.Check(raw) {
		if update && v.Kind == contract.MissingRequired {
			continue
		}
		if i, ok := recordIndex(v.Path, "data"); ok {
			byRecord[i] = append(byRecord[i], v)
		} else {
			bodyLevel = append(bodyLevel, v)
		}
	}
	if len(bodyLevel) > 0 {
		z.stats.add(func(s *Stats) { s.Refused++ })
		status, out := zoho.Refusal(bodyLevel)
		return answer{status: status, body: out}
	}
	checkFields := body.DuplicateCheckFields
	if checkFields == nil {
		checkFields = []string{"Email"}
	}
	results := make([]any, len(body.Data))
	written := false
	for i, record := range body.Data {
		if id, _ := record["id"].(string); update && id == "" {
			byRecord[i] = append(byRecord[i], contract.Violation{Kind: contract.MissingRequired, Path: fmt.Sprintf("data[%d].id", i)})
		}
		if v := byRecord[i]; len(v) > 0 {
			z.stats.add(func(s *Stats) { s.Refused++ })
			_, out := zoho.Refusal(v[:1])
			var refused struct{ Data []zoho.Exception }
			_ = json.Unmarshal(out, &refused)
			results[i] = refused.Data[0]
			continue
		}
		result, ok := z.upsertRecord(record, checkFields)
		results[i], written = result, written || ok
	}
	status := http.StatusOK
	if !written {
		status = http.StatusBadRequest
	}
	return jsonAnswer(status, map[string]any{"data": results})
}

// upsertRecord writes one conforming record and answers its result.
func (z *Zoho) upsertRecord(record map[string]any, checkFields []string) (any, bool) {
	now := time.Now().UTC().Format(time.RFC3339)
	var target map[string]any
	at := -1
	duplicateField := any(nil)
	if id, _ := record["id"].(string); id != "" {
		if at = z.ids.first("id", id); at >= 0 {
			target = z.contacts[at]
		}
		if target == nil {
			z.stats.add(func(s *Stats) { s.Refused++ })
			return zoho.Exception{Code: "INVALID_DATA", Message: "the id given seems to be invalid", Status: "error",
				Details: zoho.ExceptionDetails{APIName: "id", JSONPath: "$.data.id"}}, false
		}
	} else {
		for _, f := range checkFields {
			if v, _ := record[f].(string); v != "" {
				i := z.duplicates.first(f, v)
				if !z.duplicates.has(f) {
					i = slices.IndexFunc(z.contacts, func(c map[string]any) bool { return strings.EqualFold(fmt.Sprint(c[f]), v) })
				}
				if i >= 0 {
					target, at, duplicateField = z.contacts[i], i, f
					break
				}
			}
		}
	}
	action, message := "update", "record updated"
	if target == nil {
		z.lastID++
		target = map[string]any{"id": fmt.Sprintf("5725767%06d", z.lastID), "Created_Time": now}
		z.contacts = append(z.contacts, target)
		at = len(z.contacts) - 1
		action, message = "insert", "record added"
		z.stats.add(func(s *Stats) { s.Created++ })
	} else {
		z.stats.add(func(s *Stats) { s.Updated++ })
	}
	id := target["id"]
	maps.Copy(target, record)
	target["id"], target["Modified_Time"] = id, now
	z.ids.reindex(at, target)
	z.duplicates.reindex(at, target)
	return map[string]any{"code": "SUCCESS", "duplicate_field": duplicateField, "action": action, "message": message, "status": "success",
		"details": map[string]any{"id": id, "Created_Time": target["Created_Time"], "Modified_Time": now}}, true
}

// withRecordID names the one record of a PUT /Contacts/{id} body by the id of its path.
func withRecordID(raw []byte, id string) ([]byte, error) {
	var body struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || len(body.Data) != 1 || strings.Contains(id, "/") {
		return nil, fmt.Errorf("a record update carries one record")
	}
	body.Data[0]["id"] = id
	return json.Marshal(body)
}

// recordIndex reads i from a violation path under array[i].
func recordIndex(path, array string) (int, bool) {
	rest, ok := strings.CutPrefix(path, array+"[")
	if !ok {
		return 0, false
	}
	n, _, ok := strings.Cut(rest, "]")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(n)
	return i, err == nil
}

func modified(c map[string]any) time.Time {
	s, _ := c["Modified_Time"].(string)
	t, _ := time.Parse(time.RFC3339, s)
	return t
}
