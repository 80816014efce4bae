package apply

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

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

// TestCopyLiveKeepsTheDesiredSpec: callers keep what they asked for (a slimmed cached ConfigMap has
// no data) and learn the live metadata and status.
func TestCopyLiveKeepsTheDesiredSpec(t *testing.T) {
	desired := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c"}, Data: map[string]string{"k": "v"}}
	live := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c", ResourceVersion: "9", UID: "u"}}
	if err := copyLive(desired, live); err != nil {
		t.Fatal(err)
	}
	if desired.ResourceVersion != "9" || desired.UID != "u" || desired.Data["k"] != "v" {
		t.Errorf("after copyLive: %+v", desired)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "n"}}
	if err := copyLive(ns, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}); err != nil {
		t.Fatal(err)
	}
	if ns.Status.Phase != corev1.NamespaceTerminating {
		t.Errorf("status not copied: %+v", ns.Status)
	}
	if err := copyLive(desired, ns); err == nil {
		t.Error("copyLive between kinds: no error")
	}
}

func TestVerifiedIsPerVersionAndDigest(t *testing.T) {
	var v verified
	obj := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{UID: "u", ResourceVersion: "1"}}
	key := childKey(corev1.SchemeGroupVersion.WithKind("Secret"), client.ObjectKey{Namespace: "ns", Name: "s"})
	if v.holds(key, obj, "d") {
		t.Fatal("holds before record")
	}
	v.record(key, obj, "d")
	if !v.holds(key, obj, "d") {
		t.Fatal("does not hold what was recorded")
	}
	if v.holds(key, obj, "other") {
		t.Error("holds under another intent digest")
	}
	changed := obj.DeepCopy()
	changed.ResourceVersion = "2"
	if v.holds(key, changed, "d") {
		t.Error("holds at a newer resourceVersion")
	}
	recreated := obj.DeepCopy()
	recreated.UID = "u2"
	if v.holds(key, recreated, "d") {
		t.Error("holds for a recreated object")
	}
	v.forget(key)
	if v.len() != 0 || v.holds(key, obj, "d") {
		t.Error("forget left the entry")
	}
}

func TestKnown(t *testing.T) {
	scheme := twscheme.New()
	desired := func(v string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c"}, Data: map[string]string{"k": v}}
	}
	key := childKey(corev1.SchemeGroupVersion.WithKind("ConfigMap"), client.ObjectKey{Namespace: "ns", Name: "c"})
	digest := func(cm *corev1.ConfigMap) string {
		intent, err := Intent(cm, scheme)
		if err != nil {
			t.Fatal(err)
		}
		return intent.GetAnnotations()[IntentAnnotation]
	}
	cached := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c", UID: "u", ResourceVersion: "7"}}
	tests := map[string]struct {
		cached *corev1.ConfigMap
		record func(*verified)
		want   Knowledge
	}{
		"not cached, never written": {want: Absent},
		"not cached, but written by this Applier (the cache lags)": {want: Unknown,
			record: func(v *verified) { v.record(key, cached, digest(desired("v"))) }},
		"cached at the version verified for this intent": {cached: cached, want: Held,
			record: func(v *verified) { v.record(key, cached, digest(desired("v"))) }},
		"cached, verified for another intent": {cached: cached, want: Unknown,
			record: func(v *verified) { v.record(key, cached, digest(desired("old"))) }},
		"cached, changed since it was verified": {cached: cached, want: Unknown,
			record: func(v *verified) {
				older := cached.DeepCopy()
				older.ResourceVersion = "6"
				v.record(key, older, digest(desired("v")))
			}},
		"cached, never verified": {cached: cached, want: Unknown},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := fake.NewClientBuilder().WithScheme(scheme)
			if tc.cached != nil {
				b = b.WithObjects(tc.cached.DeepCopy())
			}
			a := &Applier{Client: b.Build(), Scheme: scheme, Owner: "test"}
			if tc.record != nil {
				tc.record(&a.verified)
			}
			got, err := a.Known(context.Background(), desired("v"))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Known = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestApplyWhenTheCacheLags: a child this Applier wrote but the cache does not hold yet is read,
// not written again; one deleted since is written; one never written is written without a read.
func TestApplyWhenTheCacheLags(t *testing.T) {
	scheme := twscheme.New()
	desired := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c"}, Data: map[string]string{"k": "v"}}
	intent, err := Intent(desired, scheme)
	if err != nil {
		t.Fatal(err)
	}
	live := &corev1.ConfigMap{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(intent.Object, live); err != nil {
		t.Fatal(err)
	}
	live.UID, live.ResourceVersion = "u", "7"
	key := childKey(corev1.SchemeGroupVersion.WithKind("ConfigMap"), client.ObjectKeyFromObject(desired))
	tests := map[string]struct {
		written, onServer bool
		wantReads         int
		wantApplies       int
	}{
		"written by this Applier, not cached yet": {written: true, onServer: true, wantReads: 1},
		"written by this Applier, deleted since":  {written: true, wantReads: 1, wantApplies: 1},
		"never written, not cached":               {wantApplies: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			applies, reads := 0, 0
			cache := fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
				Apply: func(context.Context, client.WithWatch, runtime.ApplyConfiguration, ...client.ApplyOption) error {
					applies++
					return nil
				}}).Build()
			server := fake.NewClientBuilder().WithScheme(scheme)
			if tc.onServer {
				server = server.WithObjects(live.DeepCopy())
			}
			reader := server.WithInterceptorFuncs(interceptor.Funcs{
				Get: func(ctx context.Context, c client.WithWatch, k client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
					reads++
					return c.Get(ctx, k, obj, opts...)
				}}).Build()
			a := &Applier{Client: cache, Reader: reader, Scheme: scheme, Owner: "test"}
			if tc.written {
				a.verified.record(key, live, intent.GetAnnotations()[IntentAnnotation])
			}
			if _, err := a.Apply(context.Background(), desired.DeepCopy()); err != nil {
				t.Fatal(err)
			}
			if reads != tc.wantReads || applies != tc.wantApplies {
				t.Errorf("reads %d, applies %d; want %d and %d", reads, applies, tc.wantReads, tc.wantApplies)
			}
		})
	}
}
