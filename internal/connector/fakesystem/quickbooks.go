package fakesystem

import (
	"encoding/json"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// QuickBooks is one company (realm) of the QuickBooks Online Accounting API as
// internal/connector/quickbooks.go uses it, behind Tokens (served at TokenPath):
//
//	GET  /v3/company/{realm}/query?query=select * from Customer [where MetaData.LastUpdatedTime >= '<RFC 3339>']
//	     ORDERBY MetaData.LastUpdatedTime DESC STARTPOSITION <n> MAXRESULTS <m>
//	GET  /v3/company/{realm}/customer/{id}
//	POST /v3/company/{realm}/customer   creates, or with Id, SyncToken and sparse updates
//
// Like QuickBooks, it refuses a second customer with the same DisplayName (ValidationFault 6240)
// and an update whose SyncToken is not the current one (5010).
type QuickBooks struct {
	Realm  string
	Tokens *Tokens

	mu               sync.Mutex
	customers        []map[string]any
	lastID           int
	created, updated int
}

// NewQuickBooks serves the given customers, each with a numeric string "Id", a "SyncToken" and
// MetaData.LastUpdatedTime; new customers get the IDs after the highest.
func NewQuickBooks(realm string, tokens *Tokens, customers ...map[string]any) *QuickBooks {
	q := &QuickBooks{Realm: realm, Tokens: tokens}
	for _, c := range customers {
		q.customers = append(q.customers, maps.Clone(c))
		id, _ := strconv.Atoi(c["Id"].(string))
		q.lastID = max(q.lastID, id)
	}
	return q
}

// Counts says how many customers were created and updated through the API.
func (q *QuickBooks) Counts() (created, updated int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.created, q.updated
}

// Customer returns a copy of the customer with this ID, or nil.
func (q *QuickBooks) Customer(id string) map[string]any {
	q.mu.Lock()
	defer q.mu.Unlock()
	if c := q.find(id); c != nil {
		return maps.Clone(c)
	}
	return nil
}

func (q *QuickBooks) find(id string) map[string]any {
	for _, c := range q.customers {
		if c["Id"] == id {
			return c
		}
	}
	return nil
}

func (q *QuickBooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !q.Tokens.Authorize(w, r, "Bearer") {
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v3/company/"+q.Realm)
	if !ok {
		fault(w, http.StatusForbidden, "AuthorizationFault", "3100", "", "")
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	switch id, isCustomer := strings.CutPrefix(rest, "/customer/"); {
	case r.Method == http.MethodGet && rest == "/query":
		q.query(w, r.URL.Query().Get("query"))
	case r.Method == http.MethodGet && isCustomer:
		if c := q.find(id); c != nil {
			writeJSON(w, http.StatusOK, map[string]any{"Customer": c})
			return
		}
		fault(w, http.StatusBadRequest, "ValidationFault", "610", "Id", "")
	case r.Method == http.MethodPost && rest == "/customer":
		q.write(w, r)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

var customerQuery = regexp.MustCompile(`^select \* from Customer(?: where MetaData\.LastUpdatedTime >= '([^']+)')? ` +
	`ORDERBY MetaData\.LastUpdatedTime DESC STARTPOSITION (\d+) MAXRESULTS (\d+)$`)

func (q *QuickBooks) query(w http.ResponseWriter, statement string) {
	m := customerQuery.FindStringSubmatch(statement)
	if m == nil {
		fault(w, http.StatusBadRequest, "ValidationFault", "4000", "query", "")
		return
	}
	var since time.Time
	if m[1] != "" {
		var err error
		if since, err = time.Parse(time.RFC3339, m[1]); err != nil {
			fault(w, http.StatusBadRequest, "ValidationFault", "4000", "query", "")
			return
		}
	}
	start, _ := strconv.Atoi(m[2])
	size, _ := strconv.Atoi(m[3])
	var matching []map[string]any
	for _, c := range q.customers {
		if !lastUpdated(c).Before(since) {
			matching = append(matching, c)
		}
	}
	slices.SortStableFunc(matching, func(a, b map[string]any) int { return lastUpdated(b).Compare(lastUpdated(a)) })
	from := min(max(start-1, 0), len(matching))
	page := matching[from:min(from+size, len(matching))]
	writeJSON(w, http.StatusOK, map[string]any{"QueryResponse": map[string]any{"Customer": page, "startPosition": start, "maxResults": len(page)}})
}

func (q *QuickBooks) write(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		fault(w, http.StatusBadRequest, "ValidationFault", "2020", "", "")
		return
	}
	now := time.Now().UTC().Format(time.RFC3339)
	id, _ := body["Id"].(string)
	if name, ok := body["DisplayName"].(string); ok && slices.ContainsFunc(q.customers, func(c map[string]any) bool {
		return c["DisplayName"] == name && c["Id"] != id
	}) {
		// Like QuickBooks' message, this one names the duplicate: the adapter must not pass it on.
		fault(w, http.StatusBadRequest, "ValidationFault", "6240", "DisplayName", "Duplicate Name Exists Error: "+name)
		return
	}
	if id == "" {
		q.lastID++
		c := map[string]any{}
		maps.Copy(c, body)
		c["Id"], c["SyncToken"] = strconv.Itoa(q.lastID), "0"
		c["MetaData"] = map[string]any{"CreateTime": now, "LastUpdatedTime": now}
		q.customers = append(q.customers, c)
		q.created++
		writeJSON(w, http.StatusOK, map[string]any{"Customer": c})
		return
	}
	c := q.find(id)
	switch {
	case c == nil:
		fault(w, http.StatusBadRequest, "ValidationFault", "610", "Id", "")
	case body["sparse"] != true:
		// A full update blanks every field it leaves out; the adapter only sends sparse ones.
		fault(w, http.StatusBadRequest, "ValidationFault", "2010", "sparse", "")
	case body["SyncToken"] != c["SyncToken"]:
		fault(w, http.StatusBadRequest, "ValidationFault", "5010", "SyncToken", "")
	default:
		token, _ := strconv.Atoi(c["SyncToken"].(string))
		delete(body, "sparse")
		maps.Copy(c, body)
		c["SyncToken"] = strconv.Itoa(token + 1)
		meta, _ := c["MetaData"].(map[string]any)
		c["MetaData"] = map[string]any{"CreateTime": meta["CreateTime"], "LastUpdatedTime": now}
		q.updated++
		writeJSON(w, http.StatusOK, map[string]any{"Customer": c})
	}
}

func fault(w http.ResponseWriter, status int, kind, code, element, message string) {
	writeJSON(w, status, map[string]any{"Fault": map[string]any{"type": kind,
		"Error": []any{map[string]any{"code": code, "element": element, "Message": message}}}})
}

func lastUpdated(c map[string]any) time.Time {
	meta, _ := c["MetaData"].(map[string]any)
	s, _ := meta["LastUpdatedTime"].(string)
	t, _ := time.Parse(time.RFC3339, s)
	return t
}
