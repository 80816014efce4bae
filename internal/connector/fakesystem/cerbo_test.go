package fakesystem_test

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	cerbocodec "github.com/tenantwire/tenantwire/internal/connector/cerbo"
	"github.com/tenantwire/tenantwire/internal/connector/contract"
	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
)

var fictionalPhone = regexp.MustCompile(`^\+1 (\d{3} )?555 01\d\d$`)

// checkCerboPatient holds a made-up patient to the Cerbo model: only its properties, of their
// types, every clinical property present, addresses and numbers that cannot be anyone's.
func checkCerboPatient(t *testing.T, p map[string]any) {
	t.Helper()
	for name, v := range p {
		typ, ok := fakesystem.CerboPatientProperties[name]
		if !ok {
			t.Errorf("patient %v: %s is not a Cerbo patient property", p["id"], name)
			continue
		}
		var got string
		switch v.(type) {
		case int:
			got = "integer"
		case string:
			got = "string"
		case map[string]any:
			got = "object"
		}
		if got != typ {
			t.Errorf("patient %v: %s is %T, want %s", p["id"], name, v, typ)
		}
	}
	for _, name := range fakesystem.CerboClinicalProperties {
		if p[name] == nil {
			t.Errorf("patient %v has no %s: a sync must be shown to leave it behind", p["id"], name)
		}
	}
	if _, err := time.Parse(time.DateOnly, p["dob"].(string)); err != nil {
		t.Errorf("patient %v: dob %v", p["id"], err)
	}
	if !slices.Contains([]string{"F", "M", "U", "O"}, p["sex"].(string)) {
		t.Errorf("patient %v: sex %v", p["id"], p["sex"])
	}
	if email := p["email1"].(string); !strings.HasSuffix(email, "@example.com") && !strings.HasSuffix(email, "@example.org") {
		t.Errorf("patient %v: email %s is not an example domain", p["id"], email)
	}
	for _, phone := range []string{"phone_mobile", "phone_home"} {
		if s, ok := p[phone].(string); ok && !fictionalPhone.MatchString(s) {
			t.Errorf("patient %v: %s %q is not a fictional 555-01xx number", p["id"], phone, s)
		}
	}
}

func TestDemoPatientsAreMadeUpCerboPatients(t *testing.T) {
	for _, p := range fakesystem.DemoPatients() {
		checkCerboPatient(t, p)
	}
}

// TestGeneratedPatientsAreDistinct backs the benchmark's duplicate and loss counts: 10,000
// generated patients have 10,000 different IDs, names, email addresses and phone numbers, so a
// destination that matches on any of them can tell them all apart.
func TestGeneratedPatientsAreDistinct(t *testing.T) {
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	patients := fakesystem.GeneratedPatients(10000, 1, since)
	seen := map[string]map[string]bool{"id": {}, "name": {}, "email1": {}, "phone_mobile": {}}
	for i, p := range patients {
		checkCerboPatient(t, p)
		if p["id"] != 1+i {
			t.Fatalf("patient %d has id %v", i, p["id"])
		}
		for key, values := range seen {
			v := fmt.Sprint(p[key])
			if key == "name" {
				v = fmt.Sprint(p["first_name"], " ", p["last_name"])
			}
			if values[v] {
				t.Fatalf("patient %d repeats the %s of another", i, key)
			}
			values[v] = true
		}
		if t.Failed() {
			return
		}
	}
	if last := patients[len(patients)-1]["updated_at"]; last != since.Add(9999*time.Minute).Format(time.RFC3339) {
		t.Errorf("last updated_at = %v", last)
	}
}

func TestCerboRefusesWritesOutsideItsModel(t *testing.T) {
	srv := httptest.NewServer(fakesystem.NewCerbo("u", "k", fakesystem.DemoPatients()...))
	t.Cleanup(srv.Close)
	write := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, srv.URL+fakesystem.CerboBasePath+path, strings.NewReader(body))
		req.SetBasicAuth("u", "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.Bytes()
	}
	for name, tc := range map[string]struct{ method, path, body, field string }{
		"destination-shaped":  {http.MethodPost, "/patients", `{"GivenName":"Testy","last_name":"McTestface"}`, "GivenName"},
		"sex outside F M U O": {http.MethodPatch, "/patients/1001", `{"sex":"female"}`, "sex"},
		"dob not a date":      {http.MethodPatch, "/patients/1001", `{"dob":"01/01/1970"}`, "dob"},
	} {
		t.Run(name, func(t *testing.T) {
			status, body := write(tc.method, tc.path, tc.body)
			if status != http.StatusUnprocessableEntity || !bytes.Contains(body, []byte(`"field":"`+tc.field+`"`)) {
				t.Fatalf("answer = %d %s, want 422 naming %s", status, body, tc.field)
			}
		})
	}
	if status, body := write(http.MethodPatch, "/patients/1001", `{"phone_home":"+1 555 0199","sex":"M"}`); status != http.StatusOK {
		t.Fatalf("a write within the model = %d %s", status, body)
	}
}

// TestCerboFakeFollowsTheCodecsModel holds the fake's patient to the model the Cerbo codec
// decodes (internal/connector/cerbo/testdata/patient-model.json): the same demographic
// properties with the same JSON types, plus only the clinical properties no sync may move. Two
// hand-kept lists would otherwise let the fake drift from what the codec reads.
func TestCerboFakeFollowsTheCodecsModel(t *testing.T) {
	model, err := cerbocodec.PatientModel()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for name, s := range model.Body.Properties {
		want[name] = string(s.Type)
	}
	for _, clinical := range fakesystem.CerboClinicalProperties {
		if _, ok := want[clinical]; ok {
			t.Errorf("the codec's model maps %q, a clinical property", clinical)
		}
	}
	got := maps.Clone(fakesystem.CerboPatientProperties)
	for _, clinical := range fakesystem.CerboClinicalProperties {
		delete(got, clinical)
	}
	for name, typ := range got {
		if typ == "integer" { // the model's JSON types have no integer; the fake is stricter
			got[name] = string(contract.Number)
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("the fake's demographic properties %v differ from the codec's model %v", got, want)
	}
}
