package fakesystem

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/connector/quickbooks"
)

// QuickBooks is one company (realm) of the QuickBooks Online Accounting API, behind Tokens (served
// at TokenPath):
//
//	GET  /v3/company/{realm}/query?query=select * from Customer [where MetaData.LastUpdatedTime >= '<RFC 3339>']
//	     ORDERBY MetaData.LastUpdatedTime DESC STARTPOSITION <n> MAXRESULTS <m>
//	GET  /v3/company/{realm}/query?query=select * from Customer where Id in ('<id>', ...) [MAXRESULTS <m>]
//	GET  /v3/company/{realm}/customer/{id}
//	POST /v3/company/{realm}/customer[?requestid=]   creates, or with Id and SyncToken updates
//	POST /v3/company/{realm}/batch[?requestid=]      {"BatchItemRequest": [≤30 {"bId", "operation", "Customer"}]}
//	     -> {"BatchItemResponse": [{"bId", "Customer"} or {"bId", "Fault"}]}
//
// It refuses what Intuit refuses, with Intuit's ValidationFault, from the Customer definition
// kept in internal/connector/quickbooks/testdata (quickbooks.CustomerDefinition and
// quickbooks.Refusal): an undefined property (2010, naming the element), no name element (6080),
// a value of the wrong type or too long (2010). An update without a SyncToken is refused (2020),
// one at a SyncToken that is no longer current is stale (5010), and a second customer with the same
// DisplayName, given or derived from the name elements as Intuit derives it, is a duplicate
// (6240). A sparse update changes only the properties it names; a full one replaces them all.
//
// A POST that repeats the requestid of an earlier one is answered with the earlier answer and
// changes nothing, as Intuit does (counted as Replayed: the protection working, not a duplicate). Past RateLimit (default quickbooks.RateLimit: 500 requests a
// minute and 10 in flight) a call is answered 429 with Intuit's ThrottlingFault; so is a batch
// request past BatchRateLimit (default quickbooks.BatchRateLimit, 40 a minute). Each batch item
// is written as the same request to /customer would be, and answered in its own entry.
type QuickBooks struct {
	Realm  string
	Tokens *Tokens
	// RateLimit and BatchRateLimit replace the published limits; tests shorten the window to stay
	// fast.
	RateLimit, BatchRateLimit contract.RateLimit
	// Latency holds every answer this long, so calls overlap as they do against a remote API.
	Latency time.Duration

	definition    *contract.Definition
	throttle      throttle
	batchThrottle throttle
	stats         counter

	mu        sync.Mutex
	customers []map[string]any
	// index finds customers by Id and DisplayName (exact, as Intuit compares them).
	index  *propertyIndex
	lastID int
	// answered holds the answer to each requestid seen.
	answered map[string]answer
}

// answer is a status and a JSON body.
type answer struct {
	status int
	body   []byte
}

func jsonAnswer(status int, v any) answer {
	body, _ := json.Marshal(v)
	return answer{status: status, body: body}
}

func (a answer) write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// NewQuickBooks serves the given customers, each with a numeric string "Id", a "SyncToken" and
// MetaData.LastUpdatedTime; new customers get the IDs after the highest. It panics if the kept
// Customer definition does not parse, which a test of the quickbooks package rules out.
func NewQuickBooks(realm string, tokens *Tokens, customers ...map[string]any) *QuickBooks {
	d, err := quickbooks.CustomerDefinition()
	if err != nil {
		panic(err)
	}
	q := &QuickBooks{Realm: realm, Tokens: tokens, definition: d, answered: map[string]answer{}, index: newPropertyIndex(false, "Id", "DisplayName")}
	for _, c := range customers {
		q.customers = append(q.customers, maps.Clone(c))
		q.index.add(len(q.customers)-1, q.customers[len(q.customers)-1])
		id, _ := strconv.Atoi(c["Id"].(string))
		q.lastID = max(q.lastID, id)
	}
	return q
}

// Counts says how many customers were created and updated through the API.
func (q *QuickBooks) Counts() (created, updated int) {
	s := q.Stats()
	return s.Created, s.Updated
}

// Stats are the fake's counters.
func (q *QuickBooks) Stats() Stats { return q.stats.get() }

// Customer returns a copy of the customer with this ID, or nil.
func (q *QuickBooks) Customer(id string) map[string]any {
	q.mu.Lock()
	defer q.mu.Unlock()
	if c := q.find(id); c != nil {
		return maps.Clone(c)
	}
	return nil
}

// Customers returns a copy of every customer.
func (q *QuickBooks) Customers() []map[string]any {
	q.mu.Lock()
	defer q.mu.Unlock()
	return cloneAll(q.customers)
}

func (q *QuickBooks) find(id string) map[string]any {
	if i := q.index.first("Id", id); i >= 0 {
		return q.customers[i]
	}
	return nil
}

func (q *QuickBooks) limit() contract.RateLimit {
	return orPublished(q.RateLimit, quickbooks.RateLimit)
}

func (q *QuickBooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !q.Tokens.Authorize(w, r, "Bearer") {
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v3/company/"+q.Realm)
	if !ok {
		fault(http.StatusForbidden, "AuthorizationFault", "3100", "", "").write(w)
		return
	}
	release, _, ok := q.throttle.admit(q.limit(), time.Now())
	if !ok {
		q.stats.add(func(s *Stats) { s.Throttled++ })
		throttled().write(w)
		return
	}
	defer release()
	if rest == "/batch" {
		batchLimit := q.BatchRateLimit
		if batchLimit.IsZero() {
			batchLimit = quickbooks.BatchRateLimit
		}
		releaseBatch, _, ok := q.batchThrottle.admit(batchLimit, time.Now())
		if !ok {
			q.stats.add(func(s *Stats) { s.Throttled++ })
			throttled().write(w)
			return
		}
		defer releaseBatch()
	}
	q.stats.add(func(s *Stats) { s.Requests++ })
	pause(q.Latency)
	q.mu.Lock()
	defer q.mu.Unlock()
	switch id, isCustomer := strings.CutPrefix(rest, "/customer/"); {
	case r.Method == http.MethodGet && rest == "/query":
		q.query(r.URL.Query().Get("query")).write(w)
	case r.Method == http.MethodGet && isCustomer:
		if c := q.find(id); c != nil {
			jsonAnswer(http.StatusOK, map[string]any{"Customer": c}).write(w)
			return
		}
		fault(http.StatusBadRequest, "ValidationFault", "610", "Id", "Object Not Found").write(w)
	case r.Method == http.MethodPost && (rest == "/customer" || rest == "/batch"):
		requestID := r.URL.Query().Get("requestid")
		if a, seen := q.answered[requestID]; seen && requestID != "" {
			q.stats.add(func(s *Stats) { s.Replayed++ })
			a.write(w)
			return
		}
		body, err := io.ReadAll(r.Body)
		a := fault(http.StatusBadRequest, "ValidationFault", "2020", "", "Request body could not be read")
		switch {
		case err == nil && rest == "/batch":
			a = q.batch(body)
		case err == nil:
			a = q.write(body)
		}
		if requestID != "" {
			q.answered[requestID] = a
		}
		a.write(w)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

var customerQuery = regexp.MustCompile(`^select \* from Customer(?: where MetaData\.LastUpdatedTime >= '([^']+)')? ` +
	`ORDERBY MetaData\.LastUpdatedTime DESC STARTPOSITION (\d+) MAXRESULTS (\d+)$`)

// customersByID is the query that reads given customers, as a batch update reads their SyncTokens.
var customersByID = regexp.MustCompile(`^select \* from Customer where Id in \(('\d+'(?:, ?'\d+')*)\)(?: MAXRESULTS (\d+))?$`)

func (q *QuickBooks) query(statement string) answer {
	if m := customersByID.FindStringSubmatch(statement); m != nil {
		size := 100 // Intuit's default MAXRESULTS
		if m[2] != "" {
			size, _ = strconv.Atoi(m[2])
		}
		var found []map[string]any
		for _, id := range strings.Split(m[1], ",") {
			if c := q.find(strings.Trim(strings.TrimSpace(id), "'")); c != nil && len(found) < size {
				found = append(found, c)
			}
		}
		return jsonAnswer(http.StatusOK, map[string]any{"QueryResponse": map[string]any{"Customer": found, "startPosition": 1, "maxResults": len(found)}})
	}
	m := customerQuery.FindStringSubmatch(statement)
	if m == nil {
		return fault(http.StatusBadRequest, "ValidationFault", "4000", "query", "")
	}
	var since time.Time
	if m[1] != "" {
		var err error
		if since, err = time.Parse(time.RFC3339, m[1]); err != nil {
			return fault(http.StatusBadRequest, "ValidationFault", "4000", "query", "")
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
	return jsonAnswer(http.StatusOK, map[string]any{"QueryResponse": map[string]any{"Customer": page, "startPosition": start, "maxResults": len(page)}})
}

// write creates or updates a customer from a request body.
func (q *QuickBooks) write(raw []byte) answer {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil || body == nil {
		q.stats.add(func(s *Stats) { s.Refused++ })
		return fault(http.StatusBadRequest, "ValidationFault", "2020", "", "Request body is not a JSON object")
	}
	id, _ := body["Id"].(string)
	violations := q.definition.Check(raw)
	if id != "" {
		// An update names an existing customer, whose name elements stay: the name rule is met.
		violations = slices.DeleteFunc(violations, func(v contract.Violation) bool { return v.Kind == contract.MissingOneOf })
	}
	if len(violations) > 0 {
		q.stats.add(func(s *Stats) { s.Refused++ })
		status, out := quickbooks.Refusal(violations)
		return answer{status: status, body: out}
	}
	if id == "" {
		return q.create(body)
	}
	return q.update(id, body)
}

func (q *QuickBooks) create(body map[string]any) answer {
	c := maps.Clone(body)
	delete(c, "sparse")
	setDisplayName(c)
	if a, duplicate := q.duplicateName(c, ""); duplicate {
		return a
	}
	now := time.Now().UTC().Format(time.RFC3339)
	q.lastID++
	c["Id"], c["SyncToken"] = strconv.Itoa(q.lastID), "0"
	c["MetaData"] = map[string]any{"CreateTime": now, "LastUpdatedTime": now}
	q.customers = append(q.customers, c)
	q.index.add(len(q.customers)-1, c)
	q.stats.add(func(s *Stats) { s.Created++ })
	return jsonAnswer(http.StatusOK, map[string]any{"Customer": c})
}

func (q *QuickBooks) update(id string, body map[string]any) answer {
	c := q.find(id)
	token, _ := body["SyncToken"].(string)
	switch {
	case c == nil:
		q.stats.add(func(s *Stats) { s.Refused++ })
		return fault(http.StatusBadRequest, "ValidationFault", "610", "Id", "Object Not Found")
	case token == "":
		q.stats.add(func(s *Stats) { s.Refused++ })
		return missingParam("SyncToken")
	case token != c["SyncToken"]:
		q.stats.add(func(s *Stats) { s.Refused++ })
		return fault(http.StatusBadRequest, "ValidationFault", "5010", "SyncToken", "Stale Object Error")
	}
	// A sparse update keeps what it does not name; a full one replaces the customer, and whatever
	// it leaves out is gone, as at Intuit.
	next := maps.Clone(body)
	if body["sparse"] == true {
		next = maps.Clone(c)
		maps.Copy(next, body)
	}
	delete(next, "sparse")
	setDisplayName(next)
	if a, duplicate := q.duplicateName(next, id); duplicate {
		return a
	}
	n, _ := strconv.Atoi(c["SyncToken"].(string))
	meta, _ := c["MetaData"].(map[string]any)
	next["Id"], next["SyncToken"] = id, strconv.Itoa(n+1)
	next["MetaData"] = map[string]any{"CreateTime": meta["CreateTime"], "LastUpdatedTime": time.Now().UTC().Format(time.RFC3339)}
	clear(c)
	maps.Copy(c, next)
	q.index.reindex(q.index.first("Id", id), c)
	q.stats.add(func(s *Stats) { s.Updated++ })
	return jsonAnswer(http.StatusOK, map[string]any{"Customer": c})
}

// batch writes each item of a batch request as its own request would be written.
func (q *QuickBooks) batch(raw []byte) answer {
	var body struct {
		Items []struct {
			BID       string          `json:"bId"`
			Operation string          `json:"operation"`
			Customer  json.RawMessage `json:"Customer"`
		} `json:"BatchItemRequest"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || len(body.Items) == 0 {
		return missingParam("BatchItemRequest")
	}
	if len(body.Items) > quickbooks.MaxBatchItems {
		return fault(http.StatusBadRequest, "ValidationFault", "", "BatchItemRequest",
			fmt.Sprintf("A batch request carries at most %d items", quickbooks.MaxBatchItems))
	}
	responses := make([]map[string]any, 0, len(body.Items))
	for _, item := range body.Items {
		var a answer
		var customer struct {
			ID string `json:"Id"`
		}
		_ = json.Unmarshal(item.Customer, &customer)
		switch {
		case item.BID == "":
			a = missingParam("bId")
		case item.Customer == nil:
			a = missingParam("Customer")
		case item.Operation == "create" && customer.ID != "":
			a = invalidProperty("Id")
		case item.Operation == "update" && customer.ID == "":
			a = missingParam("Id")
		case item.Operation != "create" && item.Operation != "update":
			a = invalidProperty("operation")
		default:
			a = q.write(item.Customer)
		}
		// Each entry is the item's own answer ({"Customer"} or {"Fault"}) under its bId.
		var entry map[string]any
		_ = json.Unmarshal(a.body, &entry)
		entry["bId"] = item.BID
		responses = append(responses, entry)
	}
	return jsonAnswer(http.StatusOK, map[string]any{"BatchItemResponse": responses, "time": time.Now().UTC().Format(time.RFC3339)})
}

// setDisplayName derives a missing DisplayName from the name elements, as Intuit does.
func setDisplayName(c map[string]any) {
	if name, _ := c["DisplayName"].(string); name != "" {
		return
	}
	var parts []string
	for _, element := range []string{"Title", "GivenName", "MiddleName", "FamilyName", "Suffix"} {
		if v, _ := c[element].(string); v != "" {
			parts = append(parts, v)
		}
	}
	if len(parts) > 0 {
		c["DisplayName"] = strings.Join(parts, " ")
	}
}

// duplicateName refuses a customer whose DisplayName another customer (not id) has.
func (q *QuickBooks) duplicateName(c map[string]any, id string) (answer, bool) {
	name, _ := c["DisplayName"].(string)
	if name == "" || !slices.ContainsFunc(q.index.find("DisplayName", name), func(i int) bool {
		return q.customers[i]["DisplayName"] == name && q.customers[i]["Id"] != id
	}) {
		return answer{}, false
	}
	q.stats.add(func(s *Stats) { s.Duplicates++ })
	// Like Intuit's detail, this one names the duplicate: the adapter must not pass it on.
	return fault(http.StatusBadRequest, "ValidationFault", "6240", "DisplayName", "Duplicate Name Exists Error: "+name), true
}

// throttled is Intuit's answer past a rate limit.
func throttled() answer {
	return fault(http.StatusTooManyRequests, "ThrottlingFault", quickbooks.ThrottleCode, "", "message=ThrottleExceeded; errorCode=003001; statusCode=429")
}

// missingParam is Intuit's answer to a request without a value it requires (2020).
func missingParam(element string) answer {
	return fault(http.StatusBadRequest, "ValidationFault", "2020", element, "Required param missing, need to supply the required value for the API")
}

// invalidProperty is Intuit's answer to a property it does not take here (2010).
func invalidProperty(element string) answer {
	return fault(http.StatusBadRequest, "ValidationFault", "2010", element, "Request has invalid or unsupported property")
}

// fault is an error answer in the Accounting API's shape.
func fault(status int, kind, code, element, message string) answer {
	var f quickbooks.Fault
	f.Fault.Type = kind
	f.Fault.Error = []quickbooks.FaultError{{Code: code, Element: element, Message: message}}
	return jsonAnswer(status, f)
}

func lastUpdated(c map[string]any) time.Time {
	meta, _ := c["MetaData"].(map[string]any)
	s, _ := meta["LastUpdatedTime"].(string)
	t, _ := time.Parse(time.RFC3339, s)
	return t
}
