package keypolicy

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
)

func TestRequestTracker(t *testing.T) {
	covered := []twv1.Tenant{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, {ObjectMeta: metav1.ObjectMeta{Name: "b"}}, {ObjectMeta: metav1.ObjectMeta{Name: "c"}}}
	policy := func(rv, value string) *twv1.KeyPolicy {
		kp := &twv1.KeyPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", ResourceVersion: rv}}
		if value != "-" {
			kp.Annotations = map[string]string{twv1.RotateNowAnnotation: value}
		}
		return kp
	}
	var q requestTracker
	if wake := q.begin(policy("1", "a, c"), covered); !slices.Equal(wake, []string{"a", "c"}) {
		t.Fatalf("request for a, c wakes %v", wake)
	}
	if !q.pending("p", "a") || q.pending("p", "b") || !q.pending("p", "c") {
		t.Fatal("pending tenants are not exactly the named ones")
	}
	// The status write that follows changes the resourceVersion: the same request, nothing new.
	if wake := q.begin(policy("2", "a, c"), covered); wake != nil {
		t.Errorf("a status write restarted the request: wakes %v", wake)
	}
	q.done("p", "a")
	if q.finished("p", covered) {
		t.Error("finished while c has not rotated")
	}
	// A tenant that left the policy no longer holds the request up.
	if !q.finished("p", covered[:2]) {
		t.Error("not finished although every tenant still covered has rotated")
	}
	q.done("p", "c")
	if !q.finished("p", covered) {
		t.Fatal("not finished after every named tenant rotated")
	}
	q.cleared("p", "2")
	// A cached copy of the version the annotation was removed from is not a new request...
	if wake := q.begin(policy("2", "a, c"), covered); wake != nil || q.pending("p", "a") {
		t.Errorf("a stale cached copy started a second rotation: wakes %v", wake)
	}
	// ...but the annotation set again is, and "*" names every covered tenant.
	if wake := q.begin(policy("5", "*"), covered); len(wake) != 3 {
		t.Errorf("rotate-now=* wakes %v", wake)
	}
	// The annotation gone (removed by someone else) ends the request.
	q.begin(policy("6", "-"), covered)
	if q.pending("p", "b") || q.finished("p", covered) {
		t.Error("a request outlived its annotation")
	}
}
