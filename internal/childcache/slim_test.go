package childcache_test

import (
	"bytes"
	"maps"
	"reflect"
	"slices"
	"testing"
	"unsafe"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tenantwire/tenantwire/internal/childcache"
	"github.com/tenantwire/tenantwire/internal/keyring"
	"github.com/tenantwire/tenantwire/internal/labels"
)

// TestSlimKeepsWhatControllersRead: Slim drops what we only write and keeps metadata, status and
// the few spec fields the controllers read.
func TestSlimKeepsWhatControllersRead(t *testing.T) {
	meta := metav1.ObjectMeta{Namespace: "ns", Name: "x", ResourceVersion: "7", Labels: map[string]string{"a": "b"}}
	deployment := func(full bool) *appsv1.Deployment {
		d := &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1),
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"tenantwire.io/keyring-version": "2"}}}},
			Status: appsv1.DeploymentStatus{AvailableReplicas: 1, ObservedGeneration: 3, Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "m"}}}}
		if full {
			// What Slim drops: annotations (ours and another controller's), the pod spec and labels,
			// the selector and strategy, and the conditions that do not report a failed rollout.
			d.Annotations = map[string]string{"tenantwire.io/applied-intent": "d", "deployment.kubernetes.io/revision": "1"}
			d.Spec.Template.Spec = corev1.PodSpec{Containers: []corev1.Container{{Name: "sync", Image: "img"}}}
			d.Spec.Template.Labels = map[string]string{"app.kubernetes.io/name": "tenantwire-sync"}
			d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "tenantwire-sync"}}
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType}
			d.Spec.RevisionHistoryLimit = ptr.To[int32](10)
			d.Status.Conditions = append([]appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}},
				d.Status.Conditions...)
		}
		return d
	}
	ourSecret := func(component, name string, annotations map[string]string, data map[string][]byte) *corev1.Secret {
		m := *meta.DeepCopy()
		m.Name, m.Annotations = name, annotations
		m.Labels = labels.ForIntegration("acme", "crm", component)
		m.OwnerReferences = []metav1.OwnerReference{{APIVersion: "external-secrets.io/v1", Kind: "ExternalSecret", Name: name, UID: "u1", Controller: ptr.To(true)}}
		return &corev1.Secret{ObjectMeta: m, Type: corev1.SecretTypeOpaque, Data: data}
	}
	synced := func(s *corev1.Secret) *corev1.Secret {
		s.Labels["reconcile.external-secrets.io/managed"] = "true"
		s.Labels["reconcile.external-secrets.io/created-by"] = "0123456789abcdef"
		return s
	}
	credentials := map[string][]byte{"client_id": []byte("id"), "client_secret": []byte("s3cret")}
	esoAnnotations := map[string]string{"reconcile.external-secrets.io/data-hash": "abc"}
	keyringAnnotations := map[string]string{keyring.ActiveVersionAnnotation: "3", keyring.VersionsAnnotation: "2,3", "tenantwire.io/applied-intent": "d"}
	keyringData := map[string][]byte{keyring.DataKey: []byte(`{"active":3}`)}
	job := func() *batchv1.Job {
		m := *meta.DeepCopy()
		m.Annotations = map[string]string{"tenantwire.io/applied-intent": "d"}
		return &batchv1.Job{ObjectMeta: m, Spec: batchv1.JobSpec{BackoffLimit: ptr.To[int32](2)}}
	}
	tests := map[string]struct {
		in, want client.Object
	}{
		"Deployment keeps replicas, pod template annotations, status and a failed rollout": {in: deployment(true), want: deployment(false)},
		"ExternalSecret keeps status, drops spec": {
			in: &esv1.ExternalSecret{ObjectMeta: meta, Spec: esv1.ExternalSecretSpec{Target: esv1.ExternalSecretTarget{Name: "t"}},
				Status: esv1.ExternalSecretStatus{SyncedResourceVersion: "1"}},
			want: &esv1.ExternalSecret{ObjectMeta: meta, Status: esv1.ExternalSecretStatus{SyncedResourceVersion: "1"}}},
		"credential Secret keeps only the digest of its data and our labels": {
			in: synced(ourSecret(labels.CredentialsComponent, "crm-source-credentials", esoAnnotations, credentials)),
			want: ourSecret(labels.CredentialsComponent, "crm-source-credentials", nil,
				map[string][]byte{childcache.DataDigestKey: childcache.SecretDataDigest(&corev1.Secret{Data: credentials})})},
		"credential Secret without data keeps the digest of nothing": {
			in: ourSecret(labels.CredentialsComponent, "empty", nil, nil),
			want: ourSecret(labels.CredentialsComponent, "empty", nil,
				map[string][]byte{childcache.DataDigestKey: childcache.SecretDataDigest(&corev1.Secret{})})},
		"rotated-token Secret keeps none of its tokens": {
			in:   ourSecret(labels.RotatedTokenComponent, "crm-rotated-token", nil, map[string][]byte{"destination.refresh_token": []byte("rt")}),
			want: ourSecret(labels.RotatedTokenComponent, "crm-rotated-token", nil, nil)},
		"keyring keeps its data and active version": {
			in:   ourSecret("keyring", keyring.SecretName, keyringAnnotations, keyringData),
			want: ourSecret("keyring", keyring.SecretName, map[string]string{keyring.ActiveVersionAnnotation: "3"}, keyringData)},
		"key source keeps its data, drops annotations": {
			in:   synced(ourSecret("keyring", "tenantwire-key-source", esoAnnotations, credentials)),
			want: ourSecret("keyring", "tenantwire-key-source", nil, credentials)},
		"other Secret keeps its data": {
			in:   &corev1.Secret{ObjectMeta: meta, Data: map[string][]byte{"keyring": []byte("k")}},
			want: &corev1.Secret{ObjectMeta: meta, Data: map[string][]byte{"keyring": []byte("k")}}},
		"a kind Slim does not know passes unchanged": {in: job(), want: job()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := childcache.Slim(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(got, tc.want) {
				t.Errorf("Slim() = %+v\nwant %+v", got, tc.want)
			}
			// The informer may hand Slim an object it already slimmed.
			again, err := childcache.Slim(got.(client.Object).DeepCopyObject())
			if err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(again, tc.want) {
				t.Errorf("Slim() twice = %+v\nwant %+v", again, tc.want)
			}
		})
	}
}

// TestSecretDataDigest: a credential Secret from the cache and the same Secret read whole digest
// alike, and the digest tells data apart.
func TestSecretDataDigest(t *testing.T) {
	credential := func(kv ...string) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "crm-source-credentials",
			Labels: labels.ForIntegration("acme", "crm", labels.CredentialsComponent)}, Data: map[string][]byte{}}
		for i := 0; i+1 < len(kv); i += 2 {
			s.Data[kv[i]] = []byte(kv[i+1])
		}
		return s
	}
	base := childcache.SecretDataDigest(credential("user", "u", "key", "k1"))
	tests := map[string]struct {
		secret   *corev1.Secret
		wantSame bool
	}{
		"same data":                {secret: credential("key", "k1", "user", "u"), wantSame: true},
		"changed value":            {secret: credential("user", "u", "key", "k2")},
		"value moved between keys": {secret: credential("user", "uk1", "key", "")},
		"added empty key":          {secret: credential("user", "u", "key", "k1", "x", "")},
		"no data":                  {secret: credential()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			whole := childcache.SecretDataDigest(tc.secret)
			slim, err := childcache.Slim(tc.secret.DeepCopy())
			if err != nil {
				t.Fatal(err)
			}
			cached := slim.(*corev1.Secret)
			if _, ok := cached.Data[childcache.DataDigestKey]; !ok || len(cached.Data) != 1 {
				t.Fatalf("cached data keys = %v, want only %s", slices.Collect(maps.Keys(cached.Data)), childcache.DataDigestKey)
			}
			if got := childcache.SecretDataDigest(cached); !bytes.Equal(got, whole) {
				t.Errorf("digest of the cached Secret %x, of the whole one %x", got, whole)
			}
			if same := bytes.Equal(whole, base); same != tc.wantSame {
				t.Errorf("same digest = %v, want %v", same, tc.wantSame)
			}
		})
	}
}

// TestSlimSharesEqualLabelSets: children with the same labels hold one map between them.
func TestSlimSharesEqualLabelSets(t *testing.T) {
	mk := func(name string, l map[string]string) *esv1.ExternalSecret {
		return &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: l}}
	}
	a, b := mk("a", map[string]string{"x": "1", "y": "2"}), mk("b", map[string]string{"y": "2", "x": "1"})
	c := mk("c", map[string]string{"x": "1", "y": "3"})
	for _, o := range []*esv1.ExternalSecret{a, b, c} {
		if _, err := childcache.Slim(o); err != nil {
			t.Fatal(err)
		}
	}
	same := func(p, q map[string]string) bool {
		return reflect.ValueOf(p).UnsafePointer() == reflect.ValueOf(q).UnsafePointer()
	}
	if !same(a.Labels, b.Labels) {
		t.Error("equal label sets are two maps")
	}
	if same(a.Labels, c.Labels) || c.Labels["y"] != "3" {
		t.Errorf("different label sets share a map: %v, %v", a.Labels, c.Labels)
	}
}

// TestSlimSharesOwnerReferences: the children of one owner hold one list of owner references
// between them; another owner, or the same owner without controller, gets its own.
func TestSlimSharesOwnerReferences(t *testing.T) {
	ref := func(uid types.UID, controller bool) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: "tenantwire.io/v1alpha1", Kind: "Integration", Name: "crm", UID: uid,
			Controller: ptr.To(controller), BlockOwnerDeletion: ptr.To(true)}}
	}
	mk := func(obj client.Object, refs []metav1.OwnerReference) client.Object {
		obj.SetNamespace("tenant-acme")
		obj.SetName("crm-" + reflect.TypeOf(obj).Elem().Name())
		obj.SetOwnerReferences(refs)
		return obj
	}
	children := []client.Object{
		mk(&appsv1.Deployment{}, ref("u1", true)),
		mk(&esv1.ExternalSecret{}, ref("u1", true)),
		mk(&corev1.Secret{}, ref("u1", true)),
	}
	otherOwner := mk(&esv1.ExternalSecret{}, ref("u2", true))
	notController := mk(&esv1.ExternalSecret{}, ref("u1", false))
	for _, o := range append(children, otherOwner, notController) {
		if _, err := childcache.Slim(o); err != nil {
			t.Fatal(err)
		}
	}
	same := func(p, q []metav1.OwnerReference) bool { return len(p) > 0 && len(q) > 0 && &p[0] == &q[0] }
	first := children[0].GetOwnerReferences()
	for _, o := range children[1:] {
		if !same(first, o.GetOwnerReferences()) {
			t.Errorf("%T of the same owner holds its own owner references", o)
		}
	}
	if !equality.Semantic.DeepEqual(first, ref("u1", true)) {
		t.Errorf("shared owner references = %+v, want %+v", first, ref("u1", true))
	}
	if same(first, otherOwner.GetOwnerReferences()) || otherOwner.GetOwnerReferences()[0].UID != "u2" {
		t.Errorf("another owner's child shares the list: %+v", otherOwner.GetOwnerReferences())
	}
	if same(first, notController.GetOwnerReferences()) || *notController.GetOwnerReferences()[0].Controller {
		t.Errorf("a child not controlled by the owner shares the controller's list: %+v", notController.GetOwnerReferences())
	}
	// Slimming a child again hands it the same list, and leaves the list as it was.
	again := children[0].DeepCopyObject().(client.Object)
	if _, err := childcache.Slim(again); err != nil {
		t.Fatal(err)
	}
	if !same(first, again.GetOwnerReferences()) || !equality.Semantic.DeepEqual(first, ref("u1", true)) {
		t.Errorf("slimmed again: %+v", again.GetOwnerReferences())
	}
}

// TestSlimSharesNamespaceStrings: the namespace of every child of a namespace is one string.
func TestSlimSharesNamespaceStrings(t *testing.T) {
	a := &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: string([]byte("tenant-acme")), Name: "a"}}
	b := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: string([]byte("tenant-acme")), Name: "b"}}
	if unsafe.StringData(a.Namespace) == unsafe.StringData(b.Namespace) {
		t.Fatal("the test's namespaces already share their bytes")
	}
	for _, o := range []client.Object{a, b} {
		if _, err := childcache.Slim(o); err != nil {
			t.Fatal(err)
		}
	}
	if unsafe.StringData(a.Namespace) != unsafe.StringData(b.Namespace) {
		t.Error("equal namespaces are two strings")
	}
}

// TestSlimSharesCredentialLabelsWithTheirExternalSecret: without External Secrets Operator's labels,
// a credential Secret carries its ExternalSecret's labels, and the two hold one map.
func TestSlimSharesCredentialLabelsWithTheirExternalSecret(t *testing.T) {
	l := labels.ForIntegration("acme", "crm", labels.CredentialsComponent)
	es := &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-acme", Name: "crm-source-credentials", Labels: maps.Clone(l)}}
	synced := maps.Clone(l)
	synced["reconcile.external-secrets.io/managed"] = "true"
	synced["reconcile.external-secrets.io/created-by"] = "0123456789abcdef"
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-acme", Name: "crm-source-credentials", Labels: synced}}
	for _, o := range []client.Object{es, secret} {
		if _, err := childcache.Slim(o); err != nil {
			t.Fatal(err)
		}
	}
	if reflect.ValueOf(es.Labels).UnsafePointer() != reflect.ValueOf(secret.Labels).UnsafePointer() {
		t.Errorf("the Secret's labels %v are not its ExternalSecret's %v", secret.Labels, es.Labels)
	}
	if len(synced) != len(l)+2 {
		t.Error("Slim changed the Secret's label map in place")
	}
}
