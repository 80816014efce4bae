package fakesystem

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CerboBasePath is the API's path on a practice's host, the path of a Cerbo source URL.
const CerboBasePath = "/api/v1"

// Cerbo is a practice's Cerbo EHR as internal/connector/cerbo.go uses it, behind HTTP Basic
// authentication with one API user:
//
//	GET   /api/v1/patients?updated_since=&limit=&offset=  newest first, {"data": [...], "total": n}
//	POST  /api/v1/patients       creates, answers the patient with its new "id"
//	GET   /api/v1/patients/{id}  one patient
//	PATCH /api/v1/patients/{id}  updates the given fields
//
// Patients are objects with the properties of CerboPatientProperties. A write naming any other
// property, a "dob" that is not a date or a "sex" outside F, M, U and O is refused with 422 and
// {"error": {"code", "field", "message"}}.
type Cerbo struct {
	Username, APIKey string
	// PageLimit, when set, caps each page below the limit asked for, as APIs may; the total still
	// says how many there are, so a handful of patients spans several pages.
	PageLimit int

	mu       sync.Mutex
	patients []map[string]any
	// ids finds patients by id; newest holds the positions of patients newest first (by
	// updated_at, ties in the order they were added), nil after a write until the next list.
	ids    *propertyIndex
	newest []recent
	lastID int
}

// recent is a patient's position and update time, parsed once.
type recent struct {
	at      int
	updated time.Time
}

// NewCerbo serves the given patients, each with an integer "id" and an RFC 3339 "updated_at";
// new patients get the IDs after the highest.
func NewCerbo(username, apiKey string, patients ...map[string]any) *Cerbo {
	c := &Cerbo{Username: username, APIKey: apiKey, ids: newPropertyIndex(false, "id")}
	for _, p := range patients {
		c.patients = append(c.patients, maps.Clone(p))
		c.ids.add(len(c.patients)-1, c.patients[len(c.patients)-1])
		c.lastID = max(c.lastID, p["id"].(int))
	}
	return c
}

// Patient returns a copy of the patient with this ID, or nil.
func (c *Cerbo) Patient(id string) map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.find(id); p != nil {
		return maps.Clone(p)
	}
	return nil
}

func (c *Cerbo) find(id string) map[string]any {
	if i := c.ids.first("id", id); i >= 0 {
		return c.patients[i]
	}
	return nil
}

// byRecency returns the patients' positions newest first, sorting them once after each write.
func (c *Cerbo) byRecency() []recent {
	if c.newest == nil {
		c.newest = make([]recent, len(c.patients))
		for i, p := range c.patients {
			c.newest[i] = recent{at: i, updated: updatedAt(p)}
		}
		slices.SortStableFunc(c.newest, func(a, b recent) int { return b.updated.Compare(a.updated) })
	}
	return c.newest
}

func (c *Cerbo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if user, key, ok := r.BasicAuth(); !ok || user != c.Username || key != c.APIKey {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_credentials"})
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	collection := CerboBasePath + "/patients"
	switch id, isPatient := strings.CutPrefix(r.URL.Path, collection+"/"); {
	case r.Method == http.MethodGet && r.URL.Path == collection:
		c.list(w, r)
	case r.Method == http.MethodPost && r.URL.Path == collection:
		c.write(w, r, nil)
	case r.Method == http.MethodGet && isPatient:
		if p := c.find(id); p != nil {
			writeJSON(w, http.StatusOK, p)
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{"code": "not_found"}})
	case r.Method == http.MethodPatch && isPatient:
		if p := c.find(id); p != nil {
			c.write(w, r, p)
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]any{"code": "not_found"}})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (c *Cerbo) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	offset, _ := strconv.Atoi(q.Get("offset"))
	if err != nil || limit < 1 || offset < 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": "invalid_paging"}})
		return
	}
	if c.PageLimit > 0 {
		limit = min(limit, c.PageLimit)
	}
	var since time.Time
	if s := q.Get("updated_since"); s != "" {
		if since, err = time.Parse(time.RFC3339, s); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": "invalid_date", "field": "updated_since"}})
			return
		}
	}
	// The patients updated at or after since are a prefix of the newest-first order.
	newest := c.byRecency()
	matching := newest[:sort.Search(len(newest), func(i int) bool { return newest[i].updated.Before(since) })]
	page := make([]map[string]any, 0, limit)
	for _, r := range matching[min(offset, len(matching)):min(offset+limit, len(matching))] {
		page = append(page, c.patients[r.at])
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": page, "total": len(matching)})
}

// write creates a patient (p nil) or updates p with the request's fields.
func (c *Cerbo) write(w http.ResponseWriter, r *http.Request, p map[string]any) {
	var fields map[string]any
	if err := json.NewDecoder(r.Body).Decode(&fields); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"code": "invalid_json"}})
		return
	}
	if field, ok := unknownCerboProperty(fields); ok {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": map[string]any{
			"code": "unknown_field", "field": field, "message": field + " is not a patient field"}})
		return
	}
	if sex, ok := fields["sex"].(string); ok && !slices.Contains(cerboSexes, sex) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": map[string]any{
			"code": "invalid_value", "field": "sex", "message": "sex must be one of F, M, U, O"}})
		return
	}
	if dob, ok := fields["dob"].(string); ok {
		if _, err := time.Parse(time.DateOnly, dob); err != nil {
			// The message echoes the value, as vendors do: the adapter must not pass it on.
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": map[string]any{
				"code": "invalid_date", "field": "dob", "message": "dob " + dob + " is not a date"}})
			return
		}
	}
	status := http.StatusOK
	if p == nil {
		c.lastID++
		p = map[string]any{"id": c.lastID}
		c.patients = append(c.patients, p)
		c.ids.add(len(c.patients)-1, p)
		status = http.StatusCreated
	}
	id := p["id"]
	maps.Copy(p, fields)
	p["id"], p["updated_at"] = id, time.Now().UTC().Format(time.RFC3339)
	c.newest = nil
	writeJSON(w, status, p)
}

func updatedAt(p map[string]any) time.Time {
	s, _ := p["updated_at"].(string)
	t, _ := time.Parse(time.RFC3339, s)
	return t
}
