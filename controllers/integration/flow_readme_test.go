package integration

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

// TestReadmeApprovalNamesTheReadmeIntegrationsDigest keeps the README's worked approval example
// true: the digest it approves is the digest of the Integration the README shows, so a change to
// the example or to what the digest covers breaks this test rather than the reader's approval.
func TestReadmeApprovalNamesTheReadmeIntegrationsDigest(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var example *twv1.Integration
	for _, block := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		if strings.Contains(block[1], "kind: Integration\n") && strings.Contains(block[1], "name: cerbo-to-quickbooks ") {
			example = &twv1.Integration{}
			if err := yaml.Unmarshal([]byte(block[1]), example); err != nil {
				t.Fatalf("the README's Integration: %v", err)
			}
			break
		}
	}
	if example == nil {
		t.Fatal("the README has no Integration cerbo-to-quickbooks example")
	}
	want := flowDigest(example)
	approved := regexp.MustCompile(`flowDigest: (sha256:[0-9a-f]{64})`).FindAllStringSubmatch(string(readme), -1)
	if len(approved) == 0 {
		t.Fatal("the README approves no digest")
	}
	for _, a := range approved {
		if a[1] != want {
			t.Errorf("the README approves %s; its Integration's digest is %s", a[1], want)
		}
	}
	if short := "sha256:" + strings.TrimPrefix(want, "sha256:")[:8] + "..."; !strings.Contains(string(readme), short) {
		t.Errorf("the README's awaiting-approval message does not show %s", short)
	}
}
