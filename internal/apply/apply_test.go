package apply

import (
	"context"
	"encoding/json"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/tenantwire/tenantwire/internal/childcache"
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

var (
	secretGVK    = corev1.SchemeGroupVersion.WithKind("Secret")
	configMapGVK = corev1.SchemeGroupVersion.WithKind("ConfigMap")
)

func TestVerifiedIsPerVersionAndFingerprint(t *testing.T) {
	var v verified
	obj := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{UID: "u", ResourceVersion: "1"}}
	key := childKey(corev1.SchemeGroupVersion.WithKind("Secret"), client.ObjectKey{Namespace: "ns", Name: "s"})
	if v.holds(key, stampOf(secretGVK, obj), 1) {
		t.Fatal("holds before record")
	}
	v.record(key, stampOf(secretGVK, obj), 1)
	if !v.holds(key, stampOf(secretGVK, obj), 1) {
		t.Fatal("does not hold what was recorded")
	}
	if v.holds(key, stampOf(secretGVK, obj), 2) {
		t.Error("holds for another desired object")
	}
	changed := obj.DeepCopy()
	changed.ResourceVersion = "2"
	if v.holds(key, stampOf(secretGVK, changed), 1) {
		t.Error("holds at a newer resourceVersion")
	}
	recreated := obj.DeepCopy()
	recreated.UID = "u2"
	if v.holds(key, stampOf(secretGVK, recreated), 1) {
		t.Error("holds for a recreated object")
	}
	v.forget(key)
	if v.len() != 0 || v.holds(key, stampOf(secretGVK, obj), 1) {
		t.Error("forget left the entry")
	}
}

func TestKnown(t *testing.T) {
	scheme := twscheme.New()
	desired := func(v string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c"}, Data: map[string]string{"k": v}}
	}
	key := childKey(corev1.SchemeGroupVersion.WithKind("ConfigMap"), client.ObjectKey{Namespace: "ns", Name: "c"})
	fingerprint := func(cm *corev1.ConfigMap) uint64 {
		fp, err := Fingerprint(cm)
		if err != nil {
			t.Fatal(err)
		}
		return fp
	}
	cached := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c", UID: "u", ResourceVersion: "7"}}
	tests := map[string]struct {
		cached *corev1.ConfigMap
		record func(*verified)
		want   Knowledge
	}{
		"not cached, never written": {want: Absent},
		"not cached, but written by this Applier (the cache lags)": {want: Unknown,
			record: func(v *verified) { v.record(key, stampOf(configMapGVK, cached), fingerprint(desired("v"))) }},
		"cached at the version verified for this intent": {cached: cached, want: Held,
			record: func(v *verified) { v.record(key, stampOf(configMapGVK, cached), fingerprint(desired("v"))) }},
		"cached, verified for another intent": {cached: cached, want: Unknown,
			record: func(v *verified) { v.record(key, stampOf(configMapGVK, cached), fingerprint(desired("old"))) }},
		"cached, changed since it was verified": {cached: cached, want: Unknown,
			record: func(v *verified) {
				older := cached.DeepCopy()
				older.ResourceVersion = "6"
				v.record(key, stampOf(configMapGVK, older), fingerprint(desired("v")))
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
			f := newApplyFixture(t)
			a := f.applier(tc.onServer, interceptor.Funcs{}, nil)
			if tc.written {
				a.verified.record(f.key, stampOf(configMapGVK, f.live), f.fingerprint)
			}
			if _, err := a.Apply(context.Background(), f.desired.DeepCopy()); err != nil {
				t.Fatal(err)
			}
			if f.reads != tc.wantReads || f.applies != tc.wantApplies {
				t.Errorf("reads %d, applies %d; want %d and %d", f.reads, f.applies, tc.wantReads, tc.wantApplies)
			}
		})
	}
}

// applyFixture is a desired ConfigMap and the live object that holds its intent, with Appliers
// whose server-side applies and reads from the API server it counts.
type applyFixture struct {
	scheme        *runtime.Scheme
	desired, live *corev1.ConfigMap
	key           uint64
	fingerprint   uint64
	applies       int
	reads         int
}

func newApplyFixture(t *testing.T) *applyFixture {
	t.Helper()
	f := &applyFixture{scheme: twscheme.New(),
		desired: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c"}, Data: map[string]string{"k": "v"}}}
	intent, err := Intent(f.desired, f.scheme)
	if err != nil {
		t.Fatal(err)
	}
	f.live = &corev1.ConfigMap{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(intent.Object, f.live); err != nil {
		t.Fatal(err)
	}
	f.live.UID, f.live.ResourceVersion = "u", "7"
	f.key = childKey(corev1.SchemeGroupVersion.WithKind("ConfigMap"), client.ObjectKeyFromObject(f.desired))
	if f.fingerprint, err = Fingerprint(f.desired); err != nil {
		t.Fatal(err)
	}
	return f
}

// applier builds an Applier over an empty cache (cacheFuncs intercepts its reads) and an API
// server that holds the live object when onServer is set.
func (f *applyFixture) applier(onServer bool, cacheFuncs interceptor.Funcs, watched WatchedChildren) *Applier {
	cacheFuncs.Patch = func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
		if patch.Type() != types.ApplyPatchType {
			return c.Patch(ctx, obj, patch, opts...)
		}
		f.applies++
		return nil
	}
	server := fake.NewClientBuilder().WithScheme(f.scheme)
	if onServer {
		server = server.WithObjects(f.live.DeepCopy())
	}
	reader := server.WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, k client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			f.reads++
			return c.Get(ctx, k, obj, opts...)
		}}).Build()
	cache := fake.NewClientBuilder().WithScheme(f.scheme).WithInterceptorFuncs(cacheFuncs).Build()
	return &Applier{Client: cache, Reader: reader, Scheme: f.scheme, Owner: "test", Watched: watched}
}

// fakeWatch is a childcache.Watches of ConfigMaps holding at most one child.
type fakeWatch struct {
	stamp  uint64
	exists bool
}

func (f fakeWatch) Watched(gvk schema.GroupVersionKind) bool { return gvk.Kind == "ConfigMap" }

func (f fakeWatch) Stamp(schema.GroupVersionKind, client.ObjectKey) (uint64, bool, error) {
	return f.stamp, f.exists, nil
}

// TestApplyWatchedChild: for a kind watched without a cache, the watch's stamp stands in for the
// cached object. A child at the version this Applier verified costs nothing, one at another
// version one read (and no write while it holds the intent), a missing one a write.
func TestApplyWatchedChild(t *testing.T) {
	stampAt := func(rv string) uint64 { return childcache.StampOf("u", rv) }
	tests := map[string]struct {
		watch       fakeWatch
		verified    bool
		onServer    bool
		wantReads   int
		wantApplies int
		wantKnown   Knowledge
	}{
		"watched at the verified version": {watch: fakeWatch{stamp: stampAt("7"), exists: true}, verified: true, onServer: true, wantKnown: Held},
		"watched at another version, still holding the intent": {watch: fakeWatch{stamp: stampAt("8"), exists: true},
			verified: true, onServer: true, wantReads: 1, wantKnown: Unknown},
		"watched, never verified by this Applier": {watch: fakeWatch{stamp: stampAt("7"), exists: true}, onServer: true, wantReads: 1,
			wantKnown: Unknown},
		"not in the watch, never written":                          {wantApplies: 1, wantKnown: Absent},
		"not in the watch yet, written by this Applier":            {verified: true, onServer: true, wantReads: 1, wantKnown: Unknown},
		"not in the watch, written by this Applier, deleted since": {verified: true, wantReads: 1, wantApplies: 1, wantKnown: Unknown},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newApplyFixture(t)
			a := f.applier(tc.onServer, interceptor.Funcs{
				Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
					t.Error("a watched kind was read from the cache")
					return nil
				}}, tc.watch)
			if tc.verified {
				a.verified.record(f.key, stampOf(configMapGVK, f.live), f.fingerprint)
			}
			known, err := a.Known(context.Background(), f.desired.DeepCopy())
			if err != nil {
				t.Fatal(err)
			}
			if known != tc.wantKnown {
				t.Errorf("Known = %v, want %v", known, tc.wantKnown)
			}
			if _, err := a.Apply(context.Background(), f.desired.DeepCopy()); err != nil {
				t.Fatal(err)
			}
			if f.reads != tc.wantReads || f.applies != tc.wantApplies {
				t.Errorf("reads %d, applies %d; want %d and %d", f.reads, f.applies, tc.wantReads, tc.wantApplies)
			}
		})
	}
}

// TestStatusWritesNeedNoReadBack: another controller's status write moves a cached child's
// resourceVersion but not its generation; the Applier trusts the version it verified and reads
// nothing. A spec edit (a new generation) or a label edit costs one read, and an apply when the
// child no longer holds the intent.
func TestStatusWritesNeedNoReadBack(t *testing.T) {
	scheme := twscheme.New()
	desired := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "d", Labels: map[string]string{"app": "sync"}},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1)}}
	intent, err := Intent(desired, scheme)
	if err != nil {
		t.Fatal(err)
	}
	live := &appsv1.Deployment{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(intent.Object, live); err != nil {
		t.Fatal(err)
	}
	live.UID, live.ResourceVersion, live.Generation = "u", "7", 1
	tests := map[string]struct {
		change    func(*appsv1.Deployment)
		wantReads int
	}{
		"status written by the Deployment controller": {change: func(d *appsv1.Deployment) {
			d.ResourceVersion, d.Status.ReadyReplicas = "8", 1
		}},
		"spec edited by hand": {change: func(d *appsv1.Deployment) {
			d.ResourceVersion, d.Generation, d.Spec.Replicas = "8", 2, ptr.To[int32](3)
		}, wantReads: 1},
		"label edited by hand": {change: func(d *appsv1.Deployment) {
			d.ResourceVersion, d.Labels = "8", map[string]string{"app": "other"}
		}, wantReads: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			now := live.DeepCopy()
			tc.change(now)
			reads := 0
			cache := fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
				Get: func(_ context.Context, _ client.WithWatch, _ client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
					now.DeepCopyInto(obj.(*appsv1.Deployment))
					return nil
				},
				Patch: func(context.Context, client.WithWatch, client.Object, client.Patch, ...client.PatchOption) error {
					return nil
				},
			}).Build()
			server := fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
				Get: func(_ context.Context, _ client.WithWatch, _ client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
					reads++
					now.DeepCopyInto(obj.(*appsv1.Deployment))
					return nil
				}}).Build()
			a := &Applier{Client: cache, Reader: server, Scheme: scheme, Owner: "test"}
			fp, err := Fingerprint(desired)
			if err != nil {
				t.Fatal(err)
			}
			a.verified.record(childKey(appsv1.SchemeGroupVersion.WithKind("Deployment"), client.ObjectKeyFromObject(desired)),
				stampOf(appsv1.SchemeGroupVersion.WithKind("Deployment"), live), fp)
			if _, err := a.Apply(context.Background(), desired.DeepCopy()); err != nil {
				t.Fatal(err)
			}
			if reads != tc.wantReads {
				t.Errorf("reads %d, want %d", reads, tc.wantReads)
			}
		})
	}
}

// TestReplacing: a conditional write is a create when the caller read nothing, refused when the
// object exists, and otherwise an apply that carries the version read as its precondition.
func TestReplacing(t *testing.T) {
	tests := map[string]struct {
		read     string
		onServer bool
		// wantCreate: a create is sent; wantRV: the apply's resourceVersion ("-" for no apply).
		wantCreate bool
		wantRV     string
		wantExists bool
	}{
		"nothing read, none exists":                 {wantCreate: true, wantRV: "-"},
		"nothing read, one exists (a cache behind)": {onServer: true, wantCreate: true, wantRV: "-", wantExists: true},
		"read at a version":                         {read: "7", onServer: true, wantRV: "7"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newApplyFixture(t)
			created, appliedRV := false, "-"
			cache := fake.NewClientBuilder().WithScheme(f.scheme).WithInterceptorFuncs(interceptor.Funcs{
				Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
					created = true
					if tc.onServer {
						return apierrors.NewAlreadyExists(corev1.Resource("configmaps"), obj.GetName())
					}
					return c.Create(ctx, obj, opts...)
				},
				Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
					body, err := patch.Data(obj)
					if err != nil {
						return err
					}
					var sent metav1.PartialObjectMetadata
					if err := json.Unmarshal(body, &sent); err != nil {
						return err
					}
					appliedRV = sent.ResourceVersion
					return nil
				},
			}).Build()
			// The cache never holds the child, so the Applier writes without reading it first.
			a := &Applier{Client: cache, Reader: cache, Scheme: f.scheme, Owner: "test"}
			_, err := a.Apply(context.Background(), f.desired.DeepCopy(), Replacing(tc.read))
			if got := apierrors.IsAlreadyExists(err); got != tc.wantExists || (err != nil && !got) {
				t.Fatalf("error %v; want AlreadyExists: %v", err, tc.wantExists)
			}
			if created != tc.wantCreate || appliedRV != tc.wantRV {
				t.Errorf("created %v, applied at resourceVersion %q; want %v and %q", created, appliedRV, tc.wantCreate, tc.wantRV)
			}
		})
	}
}
