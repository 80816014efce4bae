package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	cerbocodec "github.com/tenantwire/tenantwire/internal/connector/cerbo"
)

// Cerbo's credential files: HTTP Basic authentication with the API user and its key.
const (
	credCerboUsername = "username"
	credCerboAPIKey   = "api_key"
)

// cerboMaxPageSize is the largest limit Cerbo's list endpoints accept.
const cerboMaxPageSize = 100

// cerbo is Cerbo's EHR API, base URL like https://<practice>.md-hq.com/api/v1. It is modelled on
// the public API's conventions, as far as this adapter needs them:
//
//	GET   {base}/patients?updated_since=<RFC 3339>&limit=<n>&offset=<k>&sort=updated_at&order=desc
//	      -> {"data": [{"id": 123, "updated_at": "...", ...}], "total": 250}
//	POST  {base}/patients       (create) -> the patient, with its "id"
//	GET   {base}/patients/{id}  (one patient, for the replay) -> the patient
//	PATCH {base}/patients/{id}  (update) -> the patient
//	errors: {"error": {"code": "...", "field": "..."}} or {"error": "..."}
//
// Patients are read and written through the codec in internal/connector/cerbo, which follows
// tenantwire's model of a Cerbo patient (not Cerbo's published definition, which could not be
// found): a listed patient is decoded into the model's properties and everything else in it
// (clinical notes, questionnaires, ...) is dropped while the answer is parsed.
//
// updated_since is taken as inclusive, so a scan's newest patients are read again by the next
// scan (see scanCursor).
type cerbo struct {
	api      *apiClient
	pageSize int
}

func newCerbo(base *url.URL, creds Credentials, httpClient *http.Client, o Options) (*cerbo, error) {
	if err := creds.require(SystemCerbo, credCerboUsername, credCerboAPIKey); err != nil {
		return nil, err
	}
	api := newAPIClient(SystemCerbo, base, httpClient,
		basicAuth{user: creds.value(credCerboUsername), password: creds.value(credCerboAPIKey)}, o)
	api.errorCode = cerboErrorCode
	return &cerbo{api: api, pageSize: o.pageSize(cerboMaxPageSize)}, nil
}

func (c *cerbo) System() string { return SystemCerbo }

func (c *cerbo) Changes(ctx context.Context, cursor string) (Page, error) {
	var cur scanCursor
	if err := decodeCursor(SystemCerbo, cursor, &cur); err != nil {
		return Page{}, err
	}
	q := url.Values{
		"limit":  {strconv.Itoa(c.pageSize)},
		"offset": {strconv.Itoa(cur.Pos)},
		"sort":   {"updated_at"},
		"order":  {"desc"},
	}
	if !cur.Since.IsZero() {
		q.Set("updated_since", cur.Since.Format(time.RFC3339))
	}
	var out struct {
		Data  []cerbocodec.Patient `json:"data"`
		Total *int                 `json:"total"`
	}
	if _, err := c.api.do(ctx, call{op: "list patients", method: http.MethodGet, path: "/patients", query: q, out: &out}); err != nil {
		return Page{}, err
	}
	records := make([]Record, 0, len(out.Data))
	for i, p := range out.Data {
		patient, err := cerbocodec.Decode(p)
		if err != nil {
			return Page{}, fmt.Errorf("connector: cerbo: list patients: patient %d of the page: %w", cur.Pos+i, err)
		}
		records = append(records, canonicalRecord(patient))
	}
	more := len(records) == c.pageSize
	if out.Total != nil {
		more = cur.Pos+len(records) < *out.Total && len(records) > 0
	}
	return Page{Records: records, Next: encodeCursor(cur.next(records, len(records), more, 0)), More: more}, nil
}

// Get reads one patient again by ID (the replay of a rejected record); a patient Cerbo no longer
// has is ErrRecordGone.
func (c *cerbo) Get(ctx context.Context, id string) (Record, error) {
	var out cerbocodec.Patient
	_, err := c.api.do(ctx, call{op: "get patient", method: http.MethodGet, path: "/patients/" + url.PathEscape(id), out: &out})
	var status *StatusError
	if errors.As(err, &status) && status.Status == http.StatusNotFound {
		return Record{}, fmt.Errorf("connector: cerbo: get patient: %w", ErrRecordGone)
	}
	if err != nil {
		return Record{}, err
	}
	patient, err := cerbocodec.Decode(out)
	if err != nil {
		return Record{}, fmt.Errorf("connector: cerbo: get patient: %w", err)
	}
	return canonicalRecord(patient), nil
}

// Upsert encodes r.Patient with the codec: a PATCH names only the fields the patient holds, and a
// create the codec refuses (no first or last name) is a rejection of this record.
func (c *cerbo) Upsert(ctx context.Context, id string, r Record) (string, error) {
	if id != "" {
		_, err := c.api.do(ctx, call{op: "update patient", method: http.MethodPatch, path: "/patients/" + url.PathEscape(id), body: cerbocodec.Patch(r.Patient)})
		return id, err
	}
	body, err := cerbocodec.NewPatient(r.Patient)
	if err != nil {
		return "", fmt.Errorf("connector: cerbo: create patient: %w", err)
	}
	var out cerbocodec.Patient
	if _, err := c.api.do(ctx, call{op: "create patient", method: http.MethodPost, path: "/patients", body: body, out: &out}); err != nil {
		return "", err
	}
	if created := out.ID.String(); created != "" {
		return created, nil
	}
	return "", missingIDError(SystemCerbo, "create patient")
}

func cerboErrorCode(body []byte) string {
	var nested struct {
		Error struct {
			Code  string `json:"code"`
			Field string `json:"field"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &nested) == nil && nested.Error.Code != "" {
		return joinCode(nested.Error.Code, nested.Error.Field)
	}
	return errorCodeOf(body, "error", "code")
}
