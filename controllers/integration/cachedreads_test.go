package integration

import (
	"testing"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tenantwire/tenantwire/internal/childcache"
	"github.com/tenantwire/tenantwire/internal/childcache/childcachetest"
	"github.com/tenantwire/tenantwire/internal/labels"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
)

// TestDecisionsReadOnlyWhatTheCacheKeeps: what the controller decides from cached children (the
// workload's condition, the keyring version it proves, the credentials' state and hash) comes out
// the same when every field the cache drops holds something. A decision that starts reading a
// field outside its kind's childcache.Contract fails here: in production it would read zero.
func TestDecisionsReadOnlyWhatTheCacheKeeps(t *testing.T) {
	in := sampleIntegration()
	deployment := func(mut func(*appsv1.Deployment)) *appsv1.Deployment {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: in.Namespace, Name: syncName(in), Generation: 4},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{
				Annotations: map[string]string{CredentialsHashAnnotation: "h1", KeyringVersionAnnotation: "3"}}}},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 4, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
				Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}}}}
		mut(d)
		return d
	}
	deployments := map[string]*appsv1.Deployment{
		"available":     deployment(func(*appsv1.Deployment) {}),
		"not observed":  deployment(func(d *appsv1.Deployment) { d.Status.ObservedGeneration = 3 }),
		"rolling out":   deployment(func(d *appsv1.Deployment) { d.Status.UpdatedReplicas, d.Status.Replicas = 0, 2 }),
		"zero replicas": deployment(func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](0) }),
		"being deleted": deployment(func(d *appsv1.Deployment) { d.DeletionTimestamp = ptr.To(metav1.Now()) }),
		"failed rollout": deployment(func(d *appsv1.Deployment) {
			d.Status.Conditions = append(d.Status.Conditions, appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing,
				Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "took too long"})
		}),
	}
	now := metav1.NewTime(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	for name, d := range deployments {
		cached := asCached(t, d).(*appsv1.Deployment)
		for seed := int64(1); seed <= 3; seed++ {
			filled := fillDropped(t, cached, seed).(*appsv1.Deployment)
			got := computeStatus(in, observation{deployment: filled}, now)
			want := computeStatus(in, observation{deployment: cached}, now)
			if !equality.Semantic.DeepEqual(got, want) {
				t.Errorf("%s: the status depends on a field the cache drops:\nfrom the cache %+v\nwith dropped fields filled %+v", name, want, got)
			}
		}
	}

	es := &esv1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: in.Namespace, Name: credentialsName(in, sourceSide)},
		Status: esv1.ExternalSecretStatus{Conditions: []esv1.ExternalSecretStatusCondition{{Type: esv1.ExternalSecretReady,
			Status: corev1.ConditionFalse, Reason: esv1.ConditionReasonSecretSyncedError, Message: "vault said no"}}}}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: in.Namespace, Name: credentialsName(in, sourceSide),
		Labels: labels.ForIntegration("acme", in.Name, labels.CredentialsComponent)}, Data: map[string][]byte{"api_key": []byte("k")}}
	cachedES, cachedSecret := asCached(t, es).(*esv1.ExternalSecret), asCached(t, secret).(*corev1.Secret)
	for seed := int64(1); seed <= 3; seed++ {
		filledES := fillDropped(t, cachedES, seed).(*esv1.ExternalSecret)
		if got, want := externalSecretProblem(filledES, sourceSide), externalSecretProblem(cachedES, sourceSide); !equality.Semantic.DeepEqual(got, want) {
			t.Errorf("the credentials' problem depends on a field the cache drops: %+v, from the cache %+v", got, want)
		}
		filledSecret := fillDropped(t, cachedSecret, seed).(*corev1.Secret)
		if got, want := credentialsHash(filledSecret), credentialsHash(cachedSecret); got != want {
			t.Errorf("the credentials hash depends on a field the cache drops: %s, from the cache %s", got, want)
		}
	}
}

// asCached returns obj as the cache holds it.
func asCached(t *testing.T, obj client.Object) client.Object {
	t.Helper()
	out, err := childcache.Options().DefaultTransform(obj.DeepCopyObject())
	if err != nil {
		t.Fatal(err)
	}
	return out.(client.Object)
}

func fillDropped(t *testing.T, cached client.Object, seed int64) client.Object {
	t.Helper()
	out, err := childcachetest.FillDropped(cached, twscheme.New(), seed)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
