package integration

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/record"
	"github.com/tenantwire/tenantwire/internal/syncconfig"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

func withFields(fields ...twv1.PatientField) func(*twv1.Integration) {
	return func(in *twv1.Integration) { in.Spec.Fields = fields }
}

func withDestination(system twv1.System, url string) func(*twv1.Integration) {
	return func(in *twv1.Integration) {
		in.Spec.Destination = twv1.Endpoint{System: system, URL: url, Credentials: twv1.Credentials{RemoteKey: string(system) + "/api"}}
	}
}

func mustCoverage(t *testing.T, systems ...string) BAACoverage {
	t.Helper()
	c, err := ParseBAACoverage(systems)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestValidateFields(t *testing.T) {
	cases := map[string]struct {
		covered []string
		mut     []func(*twv1.Integration)
		// want is part of the FieldsNotCovered message; empty: accepted.
		want string
	}{
		"default minimum":              {},
		"identifying fields, no BAA":   {mut: []func(*twv1.Integration){withFields("email", "name")}},
		"PHI to a covered destination": {covered: []string{"quickbooks"}, mut: []func(*twv1.Integration){withFields("name", "address")}},
		"PHI to an uncovered destination": {covered: []string{"zoho"}, mut: []func(*twv1.Integration){withFields("name", "address")},
			want: "spec.fields: address is protected health information, and the destination system quickbooks is not covered"},
		"every PHI field to a webhook": {mut: []func(*twv1.Integration){withDestination(twv1.SystemWebhook, "https://hooks.example.com"),
			withFields("address", "sex", "dateOfBirth", "name")},
			want: "spec.fields: dateOfBirth, sex, address are protected health information, and the destination system webhook"},
		"coverage of the source does not count": {covered: []string{"cerbo"}, mut: []func(*twv1.Integration){withFields("name", "address")},
			want: "destination system quickbooks is not covered"},
		"a field this operator does not know": {covered: []string{"quickbooks"}, mut: []func(*twv1.Integration){withFields("name", "ssn")},
			want: `spec.fields: "ssn" is not a field this operator knows`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rules := specRules{baaCovered: mustCoverage(t, tc.covered...)}
			prob := validateFields(specInput{in: sampleIntegration(tc.mut...), rules: rules})
			if tc.want == "" {
				if prob != nil {
					t.Fatalf("refused: %+v", prob)
				}
				return
			}
			if prob == nil || prob.Reason != twv1.ReasonFieldsNotCovered || !prob.Stalled || !strings.Contains(prob.Message, tc.want) {
				t.Fatalf("validateFields = %+v, want Stalled %s containing %q", prob, twv1.ReasonFieldsNotCovered, tc.want)
			}
		})
	}
}

func TestParseBAACoverage(t *testing.T) {
	c := mustCoverage(t, "zoho", "webhook", "zoho")
	if !c.Covers(twv1.SystemZoho) || !c.Covers(twv1.SystemWebhook) || c.Covers(twv1.SystemQuickBooks) || c.String() != "zoho,webhook" {
		t.Errorf("coverage %q", c)
	}
	if (BAACoverage{}).Covers(twv1.SystemWebhook) {
		t.Error("the zero coverage covers webhook")
	}
	for _, bad := range []string{"salesforce", "Zoho", ""} {
		if _, err := ParseBAACoverage([]string{bad}); err == nil || !strings.Contains(err.Error(), "unknown system") {
			t.Errorf("ParseBAACoverage(%q) = %v, want an unknown system error", bad, err)
		}
	}
}

// The sync configuration carries the effective fields in vocabulary order, so a change of fields
// changes the configuration's digest on the pod template and rolls the pods; the same set in
// another order changes nothing.
func TestConfigMapCarriesTheEffectiveFields(t *testing.T) {
	render := func(mut ...func(*twv1.Integration)) (syncconfig.Config, string) {
		t.Helper()
		in := sampleIntegration(mut...)
		cm, err := desiredConfigMap(in, sampleInputs())
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := syncconfig.Unmarshal([]byte(cm.Data[syncconfig.FileName]))
		if err != nil {
			t.Fatal(err)
		}
		return cfg, desiredDeployment(in, sampleInputs(), cm).Spec.Template.Annotations[ConfigHashAnnotation]
	}
	def, defDigest := render()
	if got := strings.Join(def.Fields, ","); got != "name,email,phone" {
		t.Errorf("no spec.fields rendered %q, want the default minimum", got)
	}
	ordered, orderedDigest := render(withFields("address", "phone", "name"))
	if got := strings.Join(ordered.Fields, ","); got != "name,phone,address" {
		t.Errorf("rendered %q, want vocabulary order name,phone,address", got)
	}
	_, sameDigest := render(withFields("name", "address", "phone"))
	if orderedDigest == defDigest || sameDigest != orderedDigest {
		t.Errorf("config digests default %s, reordered %s and %s: a change of fields must roll the pods, an order must not", defDigest, orderedDigest, sameDigest)
	}
}

func TestComputeStatusShowsTheEffectiveFields(t *testing.T) {
	in := sampleIntegration(withFields("phone", "name"))
	now := metav1.Now()
	st := computeStatus(in, observation{fields: statusFields(in)}, now)
	if !slices.Equal(st.Fields, []twv1.PatientField{"name", "phone"}) {
		t.Errorf("status.fields = %v", st.Fields)
	}
	in.Status = st
	blocked := validateFields(specInput{in: sampleIntegration(withFields("name", "sex"))})
	st = computeStatus(in, observation{blocked: blocked}, now)
	if st.Fields != nil {
		t.Errorf("status.fields = %v on a refused Integration, want none", st.Fields)
	}
}

// The CRD's enum and default for spec.fields are hand-written markers: they must be the canonical
// vocabulary, in its order, and the minimum the runtime's record package defines.
func TestFieldEnumIsTheVocabulary(t *testing.T) {
	b, err := os.ReadFile("../../config/crd/bases/tenantwire.io_integrations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Only the parts read here: the schema of spec.fields.
	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema struct {
						Properties struct {
							Spec struct {
								Properties struct {
									Fields struct {
										Items    struct{ Enum []string }
										Default  []string
										MaxItems int
									}
								}
							}
						}
					} `json:"openAPIV3Schema"`
				}
			}
		}
	}
	if err := yaml.Unmarshal(b, &crd); err != nil {
		t.Fatal(err)
	}
	fields := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties.Spec.Properties.Fields
	enum := fields.Items.Enum
	var vocab []string
	for _, spec := range record.Vocabulary() {
		vocab = append(vocab, string(spec.Field))
	}
	if !slices.Equal(enum, vocab) {
		t.Errorf("spec.fields enum %v, want the vocabulary %v", enum, vocab)
	}
	if strings.Join(fields.Default, ",") != record.DefaultMinimum().String() {
		t.Errorf("spec.fields default %v, want record.DefaultMinimum %s", fields.Default, record.DefaultMinimum())
	}
	if fields.MaxItems != len(vocab) {
		t.Errorf("spec.fields maxItems %v, want %d", fields.MaxItems, len(vocab))
	}
}

// The CRD's hand-written rules on spec.fields must say exactly what the codecs declare: for every
// destination system and every set of fields, the API server accepts the set if and only if the
// system holds every field and gets what it needs, and each refusal names the field and the system.
func TestFieldRulesAgreeWithTheCodecs(t *testing.T) {
	vocab := record.Vocabulary()
	urls := map[twv1.System]string{
		twv1.SystemCerbo: "https://acme.md-hq.com/api/v1", twv1.SystemQuickBooks: "https://quickbooks.api.intuit.com",
		twv1.SystemZoho: "https://www.zohoapis.com", twv1.SystemGoHighLevel: "https://services.leadconnectorhq.com",
		twv1.SystemWebhook: "https://hooks.example.com",
	}
	if len(urls) != len(destinations) {
		t.Fatalf("the test covers %d destination systems, the operator knows %d", len(urls), len(destinations))
	}
	for system, d := range destinations {
		holds := strings.ReplaceAll(d.holds.String(), ",", ", ")
		for mask := 1; mask < 1<<len(vocab); mask++ {
			var fields []record.Field
			var names []twv1.PatientField
			for i, spec := range vocab {
				if mask&(1<<i) != 0 {
					fields = append(fields, spec.Field)
					names = append(names, twv1.PatientField(spec.Field))
				}
			}
			set := record.NewSet(fields...)
			var want []string
			for _, f := range set.Fields() {
				if !d.holds.Has(f) {
					want = append(want, fmt.Sprintf("spec.fields: %s cannot hold %s; it holds %s", system, f, holds))
				}
			}
			if missing := set.Missing(d.needs); len(missing) > 0 {
				want = append(want, fmt.Sprintf("spec.fields: %s needs %s", system, d.needs.String()))
			}
			if oneOf := d.needsOneOf.Fields(); len(oneOf) > 0 && len(set.Intersect(d.needsOneOf).Fields()) == 0 {
				want = append(want, fmt.Sprintf("spec.fields: %s needs %s", system, strings.ReplaceAll(d.needsOneOf.String(), ",", " or ")))
			}
			in := newIntegration("default", "fields-rule")
			withDestination(system, urls[system])(in)
			in.Spec.Fields = names
			err := k8s.Create(ctx, in, client.DryRunAll)
			switch {
			case len(want) == 0 && err != nil:
				t.Errorf("%s, fields %v: refused although the codec holds them all and gets what it needs: %v", system, names, err)
			case len(want) > 0 && err == nil:
				t.Errorf("%s, fields %v: accepted, want refused with %q", system, names, want)
			case len(want) > 0:
				if !apierrors.IsInvalid(err) {
					t.Errorf("%s, fields %v: %v, want Invalid", system, names, err)
				}
				for _, w := range want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("%s, fields %v: error %q lacks %q", system, names, err, w)
					}
				}
			}
		}
	}
}

// An Integration that names no fields gets the minimum from the API server, visible in the stored
// object; the sync configuration and the status carry the effective set; PHI flows to a covered
// destination (the suite's platform covers zoho).
func TestEffectiveFieldsReachConfigAndStatus(t *testing.T) {
	ns := setupTenant(t, "fieldset", true)
	def := newIntegration(ns, "default-fields")
	createIntegration(t, def)
	if got := getIntegration(t, def).Spec.Fields; !slices.Equal(got, []twv1.PatientField{"name", "email", "phone"}) {
		t.Errorf("stored spec.fields = %v, want the API server's default name, email, phone", got)
	}

	phi := newIntegration(ns, "zoho-phi")
	withDestination(twv1.SystemZoho, "https://www.zohoapis.eu")(phi)
	withFields("address", "name", "dateOfBirth")(phi)
	createIntegration(t, phi)
	syncCredentials(t, phi, "v1")
	markAvailable(t, phi)
	got := waitCondition(t, phi, twv1.ConditionReady, metav1.ConditionTrue, "")
	if !slices.Equal(got.Status.Fields, []twv1.PatientField{"name", "dateOfBirth", "address"}) {
		t.Errorf("status.fields = %v, want name, dateOfBirth, address", got.Status.Fields)
	}
	testenv.Eventually(t, timeout, func() error {
		cm := &corev1.ConfigMap{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: configName(phi)}, cm); err != nil {
			return err
		}
		cfg, err := syncconfig.Unmarshal([]byte(cm.Data[syncconfig.FileName]))
		if err != nil {
			return err
		}
		if got := strings.Join(cfg.Fields, ","); got != "name,dateOfBirth,address" {
			return fmt.Errorf("sync.yaml fields = %q", got)
		}
		return nil
	})
}

// The API server's answers to fields a user gets wrong name the field.
func TestFieldsValidationMessages(t *testing.T) {
	cases := map[string]struct {
		mut  []func(*twv1.Integration)
		want string
	}{
		"unknown field": {mut: []func(*twv1.Integration){withFields("name", "ssn")}, want: `spec.fields[1]: Unsupported value: "ssn"`},
		"duplicate":     {mut: []func(*twv1.Integration){withFields("name", "name")}, want: `spec.fields[1]: Duplicate value: "name"`},
		"date of birth to QuickBooks": {mut: []func(*twv1.Integration){withFields("name", "dateOfBirth")},
			want: "spec.fields: quickbooks cannot hold dateOfBirth; it holds name, email, phone, address"},
		"GoHighLevel without email or phone": {mut: []func(*twv1.Integration){withDestination(twv1.SystemGoHighLevel, "https://services.leadconnectorhq.com"),
			withFields("name", "address")}, want: "spec.fields: gohighlevel needs email or phone"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := newIntegration("default", "fields-invalid")
			for _, m := range tc.mut {
				m(in)
			}
			err := k8s.Create(ctx, in, client.DryRunAll)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want Invalid containing %q", err, tc.want)
			}
		})
	}
}
