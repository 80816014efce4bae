package e2e

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/connector/fakesystem"
	"github.com/tenantwire/tenantwire/internal/devsync"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

const (
	dpTenant    = "dataplane-clinic"
	dpNamespace = "tenant-" + dpTenant
	// e2eWebhookHost is the one webhook receiver the e2e platform lists (--allowed-hosts), with no
	// business associate agreement for webhooks (--baa-covered-systems is not set).
	e2eWebhookHost = "hooks.dataplane-clinic.example"
)

// dataPlaneTenantYAML is a Tenant of its own, with its credentials in the e2e vault
// (e2eStoreYAML), like the resilience tests' Tenant.
var dataPlaneTenantYAML = strings.ReplaceAll(resilienceTenantYAML, rTenant, dpTenant)

// defaultFieldsCustomerProperties are all a QuickBooks Customer may hold when an Integration
// authorizes the default fields (name, email, phone), as README "What the sync moves" tables
// them, plus what QuickBooks assigns (Id, SyncToken, MetaData).
var defaultFieldsCustomerProperties = []string{
	"DisplayName", "FamilyName", "GivenName", "Id", "MetaData", "MiddleName", "PrimaryEmailAddr", "PrimaryPhone", "SyncToken",
}

// TestDataPlane proves on the simulated cluster what leaves a practice's systems: the sample
// Integration with the default fields moves each made-up Cerbo patient into the QuickBooks fake
// with only those fields, and an unauthorized field or a host that is not the vendor's is refused
// before any workload runs.
func TestDataPlane(t *testing.T) {
	if _, err := sim.kubectlIn(e2eStoreYAML, "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	sim.mustKubectl(t, "apply", "--server-side", "-f", filepath.Join(sim.Root, "config", "samples", "tenantwire_v1alpha1_keypolicy.yaml"))
	if _, err := sim.kubectlIn(dataPlaneTenantYAML, "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	defer purgeTenant(t, dpTenant, dpNamespace)
	sim.waitReady(t, "tenant/"+dpTenant)

	t.Run("the sample Integration with the default fields moves each demo patient once, with name, email and phone only", func(t *testing.T) {
		sample, err := os.ReadFile(filepath.Join(sim.Root, "config", "samples", "tenantwire_v1alpha1_integration.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		// Without spec.fields the API server applies the default, which the sample spells out.
		// The simulated cluster provisions no volumes, and the dev PersistentVolume is bound to the
		// sample tenant's claim: this tenant's sync keeps its mapping on an emptyDir.
		manifest := regexp.MustCompile(`(?m)^  fields: .*\n`).ReplaceAllString(
			strings.Replace(string(sample), "namespace: "+sampleNamespace, "namespace: "+dpNamespace, 1), "") +
			"  mappingStore: {sqlite: {ephemeral: true}}\n"
		if strings.Contains(manifest, "fields:") || !strings.Contains(manifest, dpNamespace) {
			t.Fatalf("could not derive the Integration from the sample:\n%s", manifest)
		}
		if _, err := sim.kubectlIn(manifest, "apply", "--server-side", "-f", "-"); err != nil {
			t.Fatal(err)
		}
		sim.waitReady(t, "integration/"+sampleIntegration, "-n", dpNamespace)
		sim.mustKubectl(t, "wait", "--for=condition=Available", "--timeout=60s", "-n", dpNamespace, "deployment/"+sampleIntegration+"-sync")
		if got := sim.mustKubectl(t, "get", "integration", sampleIntegration, "-n", dpNamespace, "-o", "jsonpath={.status.fields[*]}"); got != "name email phone" {
			t.Errorf("status.fields = %q, want the default minimum %q", got, "name email phone")
		}

		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		dir := filepath.Join(sim.DevDir, "dataplane")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		rt, err := devsync.Start(ctx, devsync.Options{Kubectl: sim.Kubectl, Namespace: dpNamespace, Integration: sampleIntegration,
			Binary: sim.managerBin, Dir: dir, Notes: t.Output()})
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Stop()
		patients := fakesystem.DemoPatients()
		cycle, err := rt.Cycle(ctx, 0)
		if err != nil || cycle.Created != len(patients) || cycle.Rejected != 0 {
			t.Fatalf("first cycle = %+v, %v; want all %d demo patients created and none rejected", cycle, err, len(patients))
		}
		customers := rt.QuickBooks.Customers()
		for _, problem := range customerProblems(customers, patients) {
			t.Error(problem)
		}
		runtimeLog, err := os.ReadFile(rt.LogFile)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := json.Marshal(customers)
		if err != nil {
			t.Fatal(err)
		}
		for what, body := range map[string][]byte{"the customers QuickBooks stored": stored, "the runtime's log": runtimeLog} {
			for _, leak := range unauthorizedValuesIn(body, patients) {
				t.Errorf("%s hold %s", what, leak)
			}
		}
		for _, leak := range cerboIDsIn(stored, patients) {
			t.Errorf("the customers QuickBooks stored hold %s", leak)
		}
	})

	t.Run("a field the destination cannot hold is refused at apply, naming the field", func(t *testing.T) {
		manifest := dataPlaneIntegration("dob-to-quickbooks", "quickbooks", "https://quickbooks.api.intuit.com", "quickbooks/oauth",
			"[client_id, client_secret, refresh_token, realm_id]", "[name, dateOfBirth]")
		_, err := sim.kubectlIn(manifest, "apply", "--server-side", "-f", "-")
		if want := "spec.fields: quickbooks cannot hold dateOfBirth"; err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("applying fields [name, dateOfBirth] to QuickBooks: err = %v, want the API server's refusal %q", err, want)
		}
		if out := sim.mustKubectl(t, "get", "integration", "dob-to-quickbooks", "-n", dpNamespace, "--ignore-not-found", "-o", "name"); out != "" {
			t.Errorf("the refused Integration exists: %s", out)
		}
	})

	t.Run("PHI to a listed webhook without a business associate agreement stalls with FieldsNotCovered", func(t *testing.T) {
		const name = "dob-to-webhook"
		manifest := dataPlaneIntegration(name, "webhook", "https://"+e2eWebhookHost+"/patients", "webhook/signing", "[signing_secret]", "[name, dateOfBirth]")
		if _, err := sim.kubectlIn(manifest, "apply", "--server-side", "-f", "-"); err != nil {
			t.Fatal(err)
		}
		msg := waitRefused(t, name, "FieldsNotCovered")
		if !strings.Contains(msg, "dateOfBirth") || !strings.Contains(msg, "--baa-covered-systems") {
			t.Errorf("the FieldsNotCovered message does not name the field and the platform's flag: %s", msg)
		}
		if got := sim.mustKubectl(t, "get", "integration", name, "-n", dpNamespace, "-o", "jsonpath={.status.fields[*]}"); got != "" {
			t.Errorf("a refused Integration shows status.fields %q as if they flowed", got)
		}
		assertNothingRuns(t, name)
	})

	for _, tc := range []struct{ name, side, manifest string }{
		{"stolen-cerbo-key", "source", strings.Replace(
			dataPlaneIntegration("stolen-cerbo-key", "quickbooks", "https://quickbooks.api.intuit.com", "quickbooks/oauth",
				"[client_id, client_secret, refresh_token, realm_id]", "[name, email, phone]"),
			"https://acme.md-hq.com/api/v1", "https://collector.attacker.example/api/v1", 1)},
		{"stolen-intuit-token", "destination",
			dataPlaneIntegration("stolen-intuit-token", "quickbooks", "https://quickbooks.attacker.example", "quickbooks/oauth",
				"[client_id, client_secret, refresh_token, realm_id]", "[name, email, phone]")},
	} {
		t.Run("a "+tc.side+" URL off the vendor's pinned hosts stalls with HostNotAllowed; no credentials, no pod", func(t *testing.T) {
			if !strings.Contains(tc.manifest, "attacker.example") {
				t.Fatalf("the manifest names no attacker host:\n%s", tc.manifest)
			}
			if _, err := sim.kubectlIn(tc.manifest, "apply", "--server-side", "-f", "-"); err != nil {
				t.Fatal(err)
			}
			msg := waitRefused(t, tc.name, "HostNotAllowed")
			if !strings.Contains(msg, "spec."+tc.side+".url") || !strings.Contains(msg, "attacker.example") {
				t.Errorf("the HostNotAllowed message does not name spec.%s.url and the host: %s", tc.side, msg)
			}
			assertNothingRuns(t, tc.name)
		})
	}
}

// dataPlaneIntegration is an Integration from the sample practice's Cerbo to a destination, in the
// data-plane tenant.
func dataPlaneIntegration(name, system, url, remoteKey, properties, fields string) string {
	return fmt.Sprintf(`apiVersion: tenantwire.io/v1alpha1
kind: Integration
metadata:
  name: %s
  namespace: %s
spec:
  source: {system: cerbo, url: "https://acme.md-hq.com/api/v1", credentials: {remoteKey: cerbo/api, properties: [username, api_key]}}
  destination: {system: %s, url: %q, credentials: {remoteKey: %s, properties: %s}}
  fields: %s
  egress: [{cidr: 203.0.113.0/24}]
`, name, dpNamespace, system, url, remoteKey, properties, fields)
}

// waitRefused waits for the Integration to be not Ready and Stalled for reason, and returns the
// Ready condition's message.
func waitRefused(t *testing.T, name, reason string) string {
	t.Helper()
	for _, condition := range []string{"Ready", "Stalled"} {
		sim.mustKubectl(t, "wait", "--timeout=60s", "-n", dpNamespace, "integration/"+name,
			fmt.Sprintf(`--for=jsonpath={.status.conditions[?(@.type=="%s")].reason}=%s`, condition, reason))
	}
	if ready := sim.mustKubectl(t, "get", "integration", name, "-n", dpNamespace, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`); ready != "False" {
		t.Errorf("Ready of the refused Integration %s is %q, want False", name, ready)
	}
	return sim.mustKubectl(t, "get", "integration", name, "-n", dpNamespace, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].message}`)
}

// assertNothingRuns checks that a refused Integration has no workload and that its credentials
// were never brought into the cluster.
func assertNothingRuns(t *testing.T, name string) {
	t.Helper()
	children := sim.mustKubectl(t, "get", "deployments,pods,externalsecrets,secrets,configmaps", "-n", dpNamespace,
		"-l", "tenantwire.io/integration="+name, "-o", "name")
	if strings.TrimSpace(children) != "" {
		t.Errorf("the refused Integration %s has children:\n%s", name, children)
	}
	for _, secret := range []string{name + "-source-credentials", name + "-destination-credentials"} {
		if out := sim.mustKubectl(t, "get", "secret", secret, "-n", dpNamespace, "--ignore-not-found", "-o", "name"); out != "" {
			t.Errorf("the refused Integration %s has its credentials in %s", name, out)
		}
	}
}

// customerProblems compares the customers QuickBooks holds with the demo patients: each patient
// arrived exactly once, as a Customer holding exactly its name, email and phone as Cerbo has them
// (the Cerbo properties are read here by hand, not through the codec under test), and nothing else
// besides what QuickBooks assigns.
func customerProblems(customers, patients []map[string]any) []string {
	var problems []string
	if len(customers) != len(patients) {
		problems = append(problems, fmt.Sprintf("QuickBooks holds %d customers, want one for each of the %d demo patients", len(customers), len(patients)))
	}
	for _, c := range customers {
		if extra := slices.DeleteFunc(slices.Sorted(maps.Keys(c)), func(p string) bool {
			return slices.Contains(defaultFieldsCustomerProperties, p)
		}); len(extra) > 0 {
			problems = append(problems, fmt.Sprintf("customer %v holds %v, which name, email and phone do not authorize", c["Id"], extra))
		}
	}
	for _, p := range patients {
		text := func(k string) string { s, _ := p[k].(string); return s }
		var matches []map[string]any
		for _, c := range customers {
			if email, _ := c["PrimaryEmailAddr"].(map[string]any); email != nil && email["Address"] == text("email1") {
				matches = append(matches, c)
			}
		}
		if len(matches) != 1 {
			problems = append(problems, fmt.Sprintf("demo patient %v arrived %d times, want once", p["id"], len(matches)))
			continue
		}
		want := map[string]any{
			"GivenName":        text("first_name"),
			"FamilyName":       text("last_name"),
			"DisplayName":      strings.Join(slices.DeleteFunc([]string{text("first_name"), text("middle_name"), text("last_name")}, func(s string) bool { return s == "" }), " "),
			"PrimaryEmailAddr": map[string]any{"Address": text("email1")},
			"PrimaryPhone":     map[string]any{"FreeFormNumber": cmp.Or(text("phone_mobile"), text("phone_home"))},
		}
		if m := text("middle_name"); m != "" {
			want["MiddleName"] = m
		}
		got := maps.Clone(matches[0])
		for _, assigned := range []string{"Id", "SyncToken", "MetaData"} {
			delete(got, assigned)
		}
		if gotJSON, wantJSON := mustJSON(got), mustJSON(want); !bytes.Equal(gotJSON, wantJSON) {
			problems = append(problems, fmt.Sprintf("demo patient %v arrived as %s, want %s", p["id"], gotJSON, wantJSON))
		}
	}
	return problems
}

// unauthorizedValuesIn searches body, byte for byte, for what no Integration with the default
// fields may send: each patient's clinical and insurance values, questionnaire questions, date of
// birth and address, and the names of Cerbo's clinical properties. It returns what it found,
// without the values.
func unauthorizedValuesIn(body []byte, patients []map[string]any) []string {
	var found []string
	for _, p := range patients {
		planted := map[string]string{"dob": fmt.Sprint(p["dob"]), "address1": fmt.Sprint(p["address1"]), "city": fmt.Sprint(p["city"]),
			"zip": fmt.Sprint(p["zip"]), "clinical_notes": fmt.Sprint(p["clinical_notes"]), "insurance_member_id": fmt.Sprint(p["insurance_member_id"])}
		for _, property := range slices.Sorted(maps.Keys(planted)) {
			if holds(body, planted[property]) {
				found = append(found, fmt.Sprintf("demo patient %v's %s", p["id"], property))
			}
		}
		questionnaire, _ := p["questionnaire"].(map[string]any)
		for _, question := range slices.Sorted(maps.Keys(questionnaire)) {
			if bytes.Contains(body, []byte(question)) {
				found = append(found, fmt.Sprintf("demo patient %v's questionnaire question %q", p["id"], question))
			}
		}
	}
	for _, property := range fakesystem.CerboClinicalProperties {
		if bytes.Contains(body, []byte(property)) {
			found = append(found, fmt.Sprintf("the Cerbo property name %q", property))
		}
	}
	return found
}

// cerboIDsIn searches body for any patient's Cerbo ID.
func cerboIDsIn(body []byte, patients []map[string]any) []string {
	var found []string
	for _, p := range patients {
		if holds(body, fmt.Sprint(p["id"])) {
			found = append(found, fmt.Sprintf("demo patient %v's Cerbo id", p["id"]))
		}
	}
	return found
}

// holds says whether body contains value. A number (a zip code, an ID) counts only as a number of
// its own, not as digits of a longer number or a decimal: the runtime's log lines carry epoch
// timestamps and latencies.
func holds(body []byte, value string) bool {
	switch {
	case value == "":
		return false
	case strings.Trim(value, "0123456789") != "":
		return bytes.Contains(body, []byte(value))
	}
	return regexp.MustCompile(`(^|[^0-9.])` + value + `([^0-9.]|$)`).Match(body)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// purgeTenant deletes a Tenant and purges it at once, so the tests after this one start from a
// cluster without it.
func purgeTenant(t *testing.T, tenant, namespace string) {
	t.Helper()
	sim.mustKubectl(t, "delete", "tenant", tenant, "--wait=false")
	sim.mustKubectl(t, "annotate", "tenant", tenant, "tenantwire.io/purge-immediately=true", "--overwrite")
	testenv.Eventually(t, 120*time.Second, func() error {
		if out := sim.mustKubectl(t, "get", "namespace", namespace, "--ignore-not-found", "-o", "name"); strings.TrimSpace(out) != "" {
			return fmt.Errorf("namespace %s still exists", namespace)
		}
		if out := sim.mustKubectl(t, "get", "tenant", tenant, "--ignore-not-found", "-o", "name"); strings.TrimSpace(out) != "" {
			return fmt.Errorf("tenant %s still exists", tenant)
		}
		return nil
	})
}
