package fakesystem_test

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
	"github.com/tenantwire/tenantwire/internal/connector/zoho"
)

func newZoho(t *testing.T, contacts ...map[string]any) (*fakesystem.Zoho, *api) {
	t.Helper()
	tokens := newTokens()
	z := fakesystem.NewZoho(tokens, contacts...)
	return z, serve(t, z, tokens, "Zoho-oauthtoken")
}

func contactsDefinition(t *testing.T) *contract.Definition {
	t.Helper()
	d, err := zoho.ContactsDefinition()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

const upsertPath = fakesystem.ZohoContactsPath + "/upsert"

type zohoResults struct {
	Data []struct {
		Code    string         `json:"code"`
		Status  string         `json:"status"`
		Action  string         `json:"action"`
		Details map[string]any `json:"details"`
	} `json:"data"`
}

// TestZohoAcceptsEveryPropertyOfTheDefinition derives the accepted property set from the kept
// Contacts definition: an upsert that uses every body and record property it defines is accepted.
func TestZohoAcceptsEveryPropertyOfTheDefinition(t *testing.T) {
	z, a := newZoho(t)
	body := sample(contactsDefinition(t).Body).(map[string]any)
	record := body["data"].([]any)[0].(map[string]any)
	delete(record, "id") // an id names a contact to update, and there is none
	r := a.do(http.MethodPost, upsertPath, body)
	var out zohoResults
	r.decode(t, &out)
	if r.status != http.StatusOK || len(out.Data) != 1 || out.Data[0].Status != "success" || out.Data[0].Action != "insert" {
		t.Fatalf("an upsert using every defined property = %d %s", r.status, r.body)
	}
	if s := z.Stats(); s.Created != 1 || s.Refused != 0 {
		t.Errorf("stats = %+v", s)
	}
}

// TestZohoRefusesABodyTheDefinitionRefuses: a body-level violation is answered exactly as
// zoho.Refusal answers it, and nothing is written.
func TestZohoRefusesABodyTheDefinitionRefuses(t *testing.T) {
	d := contactsDefinition(t)
	for name, body := range map[string]any{
		"no data":            map[string]any{"duplicate_check_fields": []string{"Email"}},
		"undefined property": map[string]any{"data": []any{map[string]any{"Last_Name": "Dummy"}}, "patient": rawCerboPatient()},
	} {
		t.Run(name, func(t *testing.T) {
			z, a := newZoho(t)
			r := a.do(http.MethodPost, upsertPath, body)
			status, want := zoho.Refusal(d.Check(mustJSON(t, body)))
			if r.status != status || !bytes.Equal(bytes.TrimSpace(r.body), want) {
				t.Fatalf("answer = %d %s\nwant     %d %s", r.status, r.body, status, want)
			}
			if len(z.Contacts()) != 0 {
				t.Error("a refused body wrote a contact")
			}
			wantNoValue(t, r.body, clinicalValues(rawCerboPatient())...)
		})
	}
}

// TestZohoAnswersEachRecord plays a batch in which one record is a raw source object: that record
// gets MANDATORY_NOT_FOUND (no Last_Name) as zoho.Refusal words it, and the others are written.
func TestZohoAnswersEachRecord(t *testing.T) {
	z, a := newZoho(t)
	raw := rawCerboPatient()
	body := map[string]any{"data": []any{
		map[string]any{"Last_Name": "Dummy", "Email": "demo.dummy@example.org"},
		raw,
		map[string]any{"First_Name": "Fakey", "Last_Name": "Fakerson", "Date_of_Birth": 19800202},
		map[string]any{"Last_Name": "Dummy", "First_Name": "Demo", "Email": "DEMO.DUMMY@example.org"},
	}, "duplicate_check_fields": []string{"Email"}}
	r := a.do(http.MethodPost, upsertPath, body)
	var out zohoResults
	r.decode(t, &out)
	if r.status != http.StatusOK || len(out.Data) != 4 {
		t.Fatalf("answer = %d %s", r.status, r.body)
	}
	want := []struct{ code, action, apiName string }{
		{"SUCCESS", "insert", ""},
		{"MANDATORY_NOT_FOUND", "", "Last_Name"},
		{"INVALID_DATA", "", "Date_of_Birth"},
		{"SUCCESS", "update", ""}, // the same Email, in another case: the duplicate check matches
	}
	for i, w := range want {
		got := out.Data[i]
		if got.Code != w.code || got.Action != w.action || (w.apiName != "" && got.Details["api_name"] != w.apiName) {
			t.Errorf("record %d = %+v, want %s %s %s", i, got, w.code, w.action, w.apiName)
		}
	}
	if s := z.Stats(); s.Created != 1 || s.Updated != 1 || s.Refused != 2 || len(z.Contacts()) != 1 {
		t.Errorf("stats = %+v, contacts %d", s, len(z.Contacts()))
	}
	wantNoValue(t, r.body, append(clinicalValues(raw), "19800202")...)

	// When no record is written the answer is 400.
	r = a.do(http.MethodPost, upsertPath, map[string]any{"data": []any{raw}})
	if r.status != http.StatusBadRequest {
		t.Errorf("a batch with no record written = %d %s, want 400", r.status, r.body)
	}
}

func TestZohoUpsertTakesAtMostOneHundredRecords(t *testing.T) {
	z, a := newZoho(t)
	var records []any
	for i := range 101 {
		records = append(records, map[string]any{"Last_Name": fmt.Sprintf("Dummy%d", i)})
	}
	if r := a.do(http.MethodPost, upsertPath, map[string]any{"data": records}); r.status != http.StatusBadRequest || !bytes.Contains(r.body, []byte("LIMIT_EXCEEDED")) {
		t.Fatalf("101 records = %d %s, want 400 LIMIT_EXCEEDED", r.status, r.body)
	}
	if r := a.do(http.MethodPost, upsertPath, map[string]any{"data": records[:100]}); r.status != http.StatusOK {
		t.Fatalf("100 records = %d %s", r.status, r.body)
	}
	if s := z.Stats(); s.Created != 100 {
		t.Errorf("stats = %+v", s)
	}
}

func zohoContacts(n int) []map[string]any {
	var out []map[string]any
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		out = append(out, map[string]any{"id": fmt.Sprintf("57%06d", i), "Last_Name": fmt.Sprintf("Dummy%d", i),
			"Email": fmt.Sprintf("p%d@example.com", i), "Modified_Time": base.Add(time.Duration(i) * time.Second).Format(time.RFC3339)})
	}
	return out
}

type zohoPage struct {
	Data []map[string]any `json:"data"`
	Info struct {
		MoreRecords   bool   `json:"more_records"`
		NextPageToken string `json:"next_page_token"`
	} `json:"info"`
}

// TestZohoListReturnsOnlyTheFieldsAsked: v8 needs fields, answers only those (and id), and
// refuses a field the definition does not have.
func TestZohoListReturnsOnlyTheFieldsAsked(t *testing.T) {
	_, a := newZoho(t, zohoContacts(3)...)
	if r := a.do(http.MethodGet, fakesystem.ZohoContactsPath, nil); r.status != http.StatusBadRequest || !bytes.Contains(r.body, []byte("REQUIRED_PARAM_MISSING")) {
		t.Fatalf("no fields = %d %s", r.status, r.body)
	}
	if r := a.do(http.MethodGet, fakesystem.ZohoContactsPath+"?fields=Last_Name,clinical_notes", nil); r.status != http.StatusBadRequest {
		t.Fatalf("an undefined field = %d %s", r.status, r.body)
	}
	r := a.do(http.MethodGet, fakesystem.ZohoContactsPath+"?fields=Last_Name,Modified_Time", nil)
	var page zohoPage
	r.decode(t, &page)
	if len(page.Data) != 3 || page.Data[0]["Email"] != nil || page.Data[0]["Last_Name"] != "Dummy2" || page.Data[0]["id"] == nil {
		t.Fatalf("page = %s", r.body)
	}
}

// TestZohoPagesPastTwoThousandOnlyWithPageToken walks 2,500 contacts: page numbers stop at the
// 2,000th record, page tokens go on to the end.
func TestZohoPagesPastTwoThousandOnlyWithPageToken(t *testing.T) {
	_, a := newZoho(t, zohoContacts(2500)...)
	list := fakesystem.ZohoContactsPath + "?fields=Last_Name&per_page=200"
	if r := a.do(http.MethodGet, list+"&page=10", nil); r.status != http.StatusOK {
		t.Fatalf("page 10 = %d %s", r.status, r.body)
	}
	if r := a.do(http.MethodGet, list+"&page=11", nil); r.status != http.StatusBadRequest || !bytes.Contains(r.body, []byte("DISCRETE_PAGINATION_LIMIT_EXCEEDED")) {
		t.Fatalf("page 11 = %d %s, want DISCRETE_PAGINATION_LIMIT_EXCEEDED", r.status, r.body)
	}
	var ids []string
	next := list
	for {
		var page zohoPage
		a.do(http.MethodGet, next, nil).decode(t, &page)
		for _, c := range page.Data {
			ids = append(ids, c["id"].(string))
		}
		if !page.Info.MoreRecords {
			break
		}
		next = list + "&page_token=" + page.Info.NextPageToken
	}
	slices.Sort(ids)
	if len(slices.Compact(ids)) != 2500 {
		t.Fatalf("walked %d distinct contacts, want 2500", len(ids))
	}
}

func TestZohoThrottlesPastTheConcurrencyLimit(t *testing.T) {
	z, a := newZoho(t)
	z.RateLimit, z.Latency = contract.RateLimit{Concurrent: 1}, 400*time.Millisecond
	var wg sync.WaitGroup
	wg.Go(func() { a.do(http.MethodGet, fakesystem.ZohoContactsPath+"?fields=Last_Name", nil) })
	time.Sleep(150 * time.Millisecond)
	r := a.do(http.MethodGet, fakesystem.ZohoContactsPath+"?fields=Last_Name", nil)
	wg.Wait()
	if r.status != http.StatusTooManyRequests || !bytes.Contains(r.body, []byte("TOO_MANY_REQUESTS")) {
		t.Fatalf("second call in flight = %d %s, want 429", r.status, r.body)
	}
	if s := z.Stats(); s.Throttled != 1 {
		t.Errorf("stats = %+v", s)
	}
}

// TestZohoUpdatesKnownContactsByID: PUT /Contacts names each contact by its id and changes only
// what a record carries, so a record without Last_Name is no violation there; one without an id,
// or with an unknown one, is refused on its own.
func TestZohoUpdatesKnownContactsByID(t *testing.T) {
	z, a := newZoho(t, map[string]any{"id": "1", "Last_Name": "McTestface", "Email": "testy@example.com", "Modified_Time": "2026-01-01T00:00:00Z"})
	r := a.do(http.MethodPut, fakesystem.ZohoContactsPath, map[string]any{"data": []any{
		map[string]any{"id": "1", "Phone": "+1 555 0100"},
		map[string]any{"Phone": "+1 555 0101"},
		map[string]any{"id": "404", "Phone": "+1 555 0102"},
	}})
	var out zohoResults
	r.decode(t, &out)
	if r.status != http.StatusOK || len(out.Data) != 3 || out.Data[0].Action != "update" || out.Data[1].Status != "error" || out.Data[2].Status != "error" {
		t.Fatalf("PUT = %d %s", r.status, r.body)
	}
	r = a.do(http.MethodPut, fakesystem.ZohoContactsPath+"/1", map[string]any{"data": []any{map[string]any{"First_Name": "Testy"}}})
	if r.status != http.StatusOK {
		t.Fatalf("PUT /1 = %d %s", r.status, r.body)
	}
	if c := z.Contacts()[0]; c["Last_Name"] != "McTestface" || c["Phone"] != "+1 555 0100" || c["First_Name"] != "Testy" || len(z.Contacts()) != 1 {
		t.Errorf("contact after the updates = %v, want the phone and first name added to what it held", c)
	}
	if s := z.Stats(); s.Updated != 2 || s.Created != 0 || s.Refused != 2 {
		t.Errorf("stats = %+v, want 2 updates and 2 refusals", s)
	}
}
