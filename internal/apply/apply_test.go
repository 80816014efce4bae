package apply

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
)

func TestContains(t *testing.T) {
	tests := map[string]struct {
		have, want any
		ok         bool
	}{
		"equal scalars":                     {have: "a", want: "a", ok: true},
		"different scalars":                 {have: "a", want: "b"},
		"int and float of the same number":  {have: int64(53), want: float64(53), ok: true},
		"server default field ignored":      {have: map[string]any{"a": "1", "protocol": "TCP"}, want: map[string]any{"a": "1"}, ok: true},
		"missing field":                     {have: map[string]any{}, want: map[string]any{"a": "1"}},
		"empty map pruned by the server":    {have: map[string]any{}, want: map[string]any{"spec": map[string]any{}}, ok: true},
		"false is not pruned":               {have: map[string]any{}, want: map[string]any{"automount": false}},
		"list element edited":               {have: []any{"x", "y"}, want: []any{"x", "z"}},
		"list element appended by hand":     {have: []any{"x", "y"}, want: []any{"x"}},
		"list of maps with server defaults": {have: []any{map[string]any{"p": int64(1), "q": "d"}}, want: []any{map[string]any{"p": int64(1)}}, ok: true},
		"type mismatch":                     {have: "1", want: map[string]any{"a": "1"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := contains(tc.have, tc.want); got != tc.ok {
				t.Errorf("contains(%v, %v) = %v, want %v", tc.have, tc.want, got, tc.ok)
			}
		})
	}
}

func TestIntentAndHolds(t *testing.T) {
	scheme := twscheme.New()
	sa := func(automount bool, label string) *corev1.ServiceAccount {
		return &corev1.ServiceAccount{
			ObjectMeta:                   metav1.ObjectMeta{Name: "sync", Namespace: "tenant-a", Labels: map[string]string{"l": label}},
			AutomountServiceAccountToken: ptr.To(automount),
		}
	}
	intent, err := Intent(sa(false, "x"), scheme)
	if err != nil {
		t.Fatal(err)
	}
	if intent.GetKind() != "ServiceAccount" || intent.GetAPIVersion() != "v1" {
		t.Errorf("intent GVK = %s", intent.GroupVersionKind())
	}
	if _, found := intent.Object["status"]; found {
		t.Error("intent carries status")
	}
	if _, found := intent.Object["metadata"].(map[string]any)["creationTimestamp"]; found {
		t.Error("intent carries creationTimestamp")
	}

	live := sa(false, "x")
	live.Annotations = map[string]string{IntentAnnotation: intent.GetAnnotations()[IntentAnnotation]}
	live.ResourceVersion, live.UID = "42", "u"
	tests := map[string]struct {
		mutate func(*corev1.ServiceAccount)
		want   bool
	}{
		"live holds the intent":           {mutate: func(*corev1.ServiceAccount) {}, want: true},
		"extra label added by someone":    {mutate: func(s *corev1.ServiceAccount) { s.Labels["other"] = "y" }, want: true},
		"owned field edited by hand":      {mutate: func(s *corev1.ServiceAccount) { s.AutomountServiceAccountToken = ptr.To(true) }},
		"digest annotation from an older": {mutate: func(s *corev1.ServiceAccount) { s.Annotations[IntentAnnotation] = "old" }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l := live.DeepCopy()
			tc.mutate(l)
			got, err := Holds(l, intent)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Holds = %v, want %v", got, tc.want)
			}
		})
	}

	other, err := Intent(sa(false, "changed"), scheme)
	if err != nil {
		t.Fatal(err)
	}
	if other.GetAnnotations()[IntentAnnotation] == intent.GetAnnotations()[IntentAnnotation] {
		t.Error("a changed label left the intent digest unchanged")
	}
}
