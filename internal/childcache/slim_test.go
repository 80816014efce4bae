package childcache_test

import (
	"reflect"
	"testing"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tenantwire/tenantwire/internal/childcache"
)

// TestSlimKeepsWhatControllersRead: Slim drops what we only write and keeps metadata, status and
// the few spec fields the controllers read.
func TestSlimKeepsWhatControllersRead(t *testing.T) {
	meta := metav1.ObjectMeta{Namespace: "ns", Name: "x", ResourceVersion: "7", Labels: map[string]string{"a": "b"}}
	deployment := func(withPodSpec bool) *appsv1.Deployment {
		d := &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1),
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"tenantwire.io/keyring-version": "2"}}}},
			Status: appsv1.DeploymentStatus{AvailableReplicas: 1, ObservedGeneration: 3}}
		if withPodSpec {
			// What Slim drops: annotations (ours and another controller's) and the pod spec.
			d.Annotations = map[string]string{"tenantwire.io/applied-intent": "d", "deployment.kubernetes.io/revision": "1"}
			d.Spec.Template.Spec = corev1.PodSpec{Containers: []corev1.Container{{Name: "sync", Image: "img"}}}
		}
		return d
	}
	secret := &corev1.Secret{ObjectMeta: meta, Data: map[string][]byte{"keyring": []byte("k")}}
	tests := map[string]struct {
		in, want client.Object
	}{
		"Deployment keeps replicas, template annotations and status": {in: deployment(true), want: deployment(false)},
		"NetworkPolicy drops its rules": {
			in:   &networkingv1.NetworkPolicy{ObjectMeta: meta, Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{"Egress"}}},
			want: &networkingv1.NetworkPolicy{ObjectMeta: meta}},
		"Role drops its rules": {
			in:   &rbacv1.Role{ObjectMeta: meta, Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}}}},
			want: &rbacv1.Role{ObjectMeta: meta}},
		"RoleBinding keeps roleRef, drops subjects": {
			in:   &rbacv1.RoleBinding{ObjectMeta: meta, RoleRef: rbacv1.RoleRef{Name: "r"}, Subjects: []rbacv1.Subject{{Name: "s"}}},
			want: &rbacv1.RoleBinding{ObjectMeta: meta, RoleRef: rbacv1.RoleRef{Name: "r"}}},
		"ConfigMap drops its data": {
			in:   &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"sync.yaml": "x"}},
			want: &corev1.ConfigMap{ObjectMeta: meta}},
		"ExternalSecret keeps status, drops spec": {
			in: &esv1.ExternalSecret{ObjectMeta: meta, Spec: esv1.ExternalSecretSpec{Target: esv1.ExternalSecretTarget{Name: "t"}},
				Status: esv1.ExternalSecretStatus{SyncedResourceVersion: "1"}},
			want: &esv1.ExternalSecret{ObjectMeta: meta, Status: esv1.ExternalSecretStatus{SyncedResourceVersion: "1"}}},
		"Secret data is kept (keyrings and credential digests read it)": {in: secret.DeepCopy(), want: secret.DeepCopy()},
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
		})
	}
}

// TestSlimSharesEqualLabelSets: children with the same labels hold one map between them.
func TestSlimSharesEqualLabelSets(t *testing.T) {
	mk := func(name string, l map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: l}}
	}
	a, b := mk("a", map[string]string{"x": "1", "y": "2"}), mk("b", map[string]string{"y": "2", "x": "1"})
	c := mk("c", map[string]string{"x": "1", "y": "3"})
	for _, o := range []*corev1.ConfigMap{a, b, c} {
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
