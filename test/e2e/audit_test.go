package e2e

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantwire/tenantwire/internal/testenv"
)

// auditEvent is what the test reads of one line of the API server's audit log (audit.k8s.io/v1
// Event, JSON format).
type auditEvent struct {
	Level     string   `json:"level"`
	Stage     string   `json:"stage"`
	Verb      string   `json:"verb"`
	SourceIPs []string `json:"sourceIPs"`
	User      struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	} `json:"user"`
	ImpersonatedUser *struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	} `json:"impersonatedUser"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestObject            json.RawMessage `json:"requestObject"`
	ResponseObject           json.RawMessage `json:"responseObject"`
	RequestReceivedTimestamp time.Time       `json:"requestReceivedTimestamp"`
}

// TestAuditLog plays a practice admin, alice of the group practice-admins, who changes an
// Integration, next to someone who writes and reads a Secret: the simulated cluster's API server
// runs with config/audit/policy.yaml, and its audit log must say who made the change, from where,
// when and to which object, with the object, and must never hold the Secret's value.
func TestAuditLog(t *testing.T) {
	const ns, name = "audit-e2e", "audited-flow"
	const planted = "planted-secret-value-7Qx9Zk" // a credential as a vault would hand it out
	t.Cleanup(func() { _, _ = sim.kubectl("delete", "namespace", ns, "--wait=false") })

	// alice gets what a Tenant's admins get, in a namespace of her own; the operator builds nothing
	// there (it is no tenant namespace), so the only writes to the Integration are hers.
	sim.mustKubectl(t, "create", "namespace", ns)
	sim.mustKubectl(t, "create", "rolebinding", "practice-admins", "-n", ns,
		"--clusterrole=tenantwire-tenant-admin", "--group=practice-admins")

	// The Secret is created from a literal (data in the request), applied with stringData (the
	// value in clear in the request), and read back (the value in the response).
	sim.mustKubectl(t, "create", "secret", "generic", "vendor-credentials", "-n", ns, "--from-literal=api_key="+planted)
	if _, err := sim.kubectlIn(fmt.Sprintf(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"vendor-credentials-2","namespace":%q},"stringData":{"api_key":%q}}`, ns, planted),
		"apply", "--server-side", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	sim.mustKubectl(t, "get", "secret", "vendor-credentials", "vendor-credentials-2", "-n", ns, "-o", "yaml")

	start := time.Now().Add(-time.Second)
	asAlice := []string{"--as", "alice", "--as-group", "practice-admins"}
	integration, err := os.ReadFile(filepath.Join(sim.Root, "config", "samples", "tenantwire_v1alpha1_integration.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	manifest := strings.Replace(strings.Replace(string(integration), "namespace: tenant-acme-family-practice", "namespace: "+ns, 1),
		"name: cerbo-to-quickbooks", "name: "+name, 1)
	if _, err := sim.kubectlIn(manifest, append([]string{"create", "-f", "-"}, asAlice...)...); err != nil {
		t.Fatal(err)
	}
	sim.mustKubectl(t, append([]string{"patch", "integration", name, "-n", ns, "--type=merge", "-p", `{"spec":{"schedule":{"interval":"15m"}}}`}, asAlice...)...)

	var events []auditEvent
	var raw []byte
	testenv.Eventually(t, 30*time.Second, func() error {
		if raw, err = os.ReadFile(sim.AuditLog); err != nil {
			return err
		}
		if events, err = parseAuditLog(raw); err != nil {
			return err
		}
		if _, ok := findAuditEvent(events, "patch", "integrations", ns, name); !ok {
			return errors.New("the patch of the Integration is not in the audit log yet")
		}
		return nil
	})

	for _, verb := range []string{"create", "patch"} {
		e, _ := findAuditEvent(events, verb, "integrations", ns, name)
		switch {
		case e.ImpersonatedUser == nil || e.ImpersonatedUser.Username != "alice" || !slices.Contains(e.ImpersonatedUser.Groups, "practice-admins"):
			t.Errorf("%s of the Integration: impersonated user %+v, want alice in practice-admins", verb, e.ImpersonatedUser)
		case e.User.Username == "" || e.User.Username == "alice":
			t.Errorf("%s of the Integration: user %q, want the cluster admin who impersonated alice", verb, e.User.Username)
		case len(e.SourceIPs) == 0:
			t.Errorf("%s of the Integration: no source IP", verb)
		case e.RequestReceivedTimestamp.Before(start) || e.RequestReceivedTimestamp.After(time.Now()):
			t.Errorf("%s of the Integration: time %s, want after %s", verb, e.RequestReceivedTimestamp, start)
		case e.Level != "RequestResponse" || len(e.RequestObject) == 0 || len(e.ResponseObject) == 0:
			t.Errorf("%s of the Integration: level %s, want RequestResponse with the request and the stored object", verb, e.Level)
		case e.ResponseStatus == nil || e.ResponseStatus.Code >= 300:
			t.Errorf("%s of the Integration: response %+v, want success", verb, e.ResponseStatus)
		}
	}
	if e, _ := findAuditEvent(events, "patch", "integrations", ns, name); !bytes.Contains(e.RequestObject, []byte(`"15m"`)) {
		t.Errorf("the patch event lacks what alice sent: %s", e.RequestObject)
	}

	// Every touch of the Secrets is there, as metadata only.
	for _, verb := range []string{"create", "patch", "get"} {
		e, ok := findAuditEvent(events, verb, "secrets", ns, "")
		switch {
		case !ok:
			t.Errorf("no %s of a Secret in %s in the audit log", verb, ns)
		case e.Level != "Metadata" || len(e.RequestObject) != 0 || len(e.ResponseObject) != 0:
			t.Errorf("%s of a Secret logged at %s with bodies, want Metadata only", verb, e.Level)
		}
	}
	for _, form := range []string{planted, base64.StdEncoding.EncodeToString([]byte(planted)), base64.RawStdEncoding.EncodeToString([]byte(planted))} {
		if bytes.Contains(raw, []byte(form)) {
			t.Errorf("the audit log holds the Secret's value (as %q)", form)
		}
	}
	for _, e := range events {
		if e.Stage == "RequestReceived" {
			t.Fatalf("the audit log has a RequestReceived event (%s %+v): the policy omits that stage", e.Verb, e.ObjectRef)
		}
		if e.ObjectRef != nil && (e.ObjectRef.Resource == "events" || e.ObjectRef.Resource == "leases") {
			t.Fatalf("the audit log has %s of %s: the policy drops them", e.Verb, e.ObjectRef.Resource)
		}
	}
	t.Run("the README's filter finds alice's patch", func(t *testing.T) { readmeAuditFilterFinds(t, sim.AuditLog, name) })
	if e, _ := findAuditEvent(events, "patch", "integrations", ns, name); !t.Failed() {
		t.Logf("audit event of alice's patch: %s user=%s impersonated=%s groups=%v sourceIPs=%v %s %s/%s at %s",
			e.Level, e.User.Username, e.ImpersonatedUser.Username, e.ImpersonatedUser.Groups, e.SourceIPs, e.Verb,
			e.ObjectRef.Namespace, e.ObjectRef.Name, e.RequestReceivedTimestamp.Format(time.RFC3339Nano))
	}
}

// readmeAuditFilterFinds runs the jq filter of the README's worked example (section "Audit") on
// the audit log, so that the example cannot drift from the log the API server writes.
func readmeAuditFilterFinds(t *testing.T, auditLog, name string) {
	jq, err := exec.LookPath("jq")
	if err != nil {
		t.Skip("jq is not installed; .ci/run installs it")
	}
	readme, err := os.ReadFile(filepath.Join(sim.Root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "$ jq -c '")
	filter, _, ok2 := strings.Cut(rest, "' \\\n")
	if !ok || !ok2 {
		t.Fatal("README.md has no worked example of the form $ jq -c '<filter>' \\ <audit log>")
	}
	out, err := exec.Command(jq, "-c", filter, auditLog).Output()
	if err != nil {
		t.Fatalf("jq with the README's filter: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var row struct {
			Time      time.Time `json:"time"`
			User      string    `json:"user"`
			Groups    []string  `json:"groups"`
			SourceIPs []string  `json:"sourceIPs"`
			Verb      string    `json:"verb"`
			Object    string    `json:"object"`
			Code      int       `json:"code"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("the README's filter printed %q: %v", line, err)
		}
		if row.User == "alice" && row.Verb == "patch" && row.Object == "integrations/"+name {
			if !slices.Contains(row.Groups, "practice-admins") || len(row.SourceIPs) == 0 || row.Time.IsZero() || row.Code != 200 {
				t.Errorf("the README's filter printed alice's patch without groups, source IP, time or code: %s", line)
			}
			return
		}
	}
	t.Errorf("the README's filter printed no line for alice's patch of %s:\n%s", name, out)
}

func parseAuditLog(raw []byte) ([]auditEvent, error) {
	var events []auditEvent
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// The API server may be in the middle of writing the last line.
			continue
		}
		events = append(events, e)
	}
	return events, sc.Err()
}

// findAuditEvent returns the last completed event of a verb on an object (not on its status); an
// empty name matches any object of the resource in the namespace.
func findAuditEvent(events []auditEvent, verb, resource, namespace, name string) (auditEvent, bool) {
	for i := len(events) - 1; i >= 0; i-- {
		e := events[i]
		if e.Stage == "ResponseComplete" && e.Verb == verb && e.ObjectRef != nil && e.ObjectRef.Resource == resource &&
			e.ObjectRef.Subresource == "" && e.ObjectRef.Namespace == namespace && (name == "" || e.ObjectRef.Name == name) {
			return e, true
		}
	}
	return auditEvent{}, false
}
