package keypolicy

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/testenv"
)

func TestReaderDelay(t *testing.T) {
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	tests := map[string]struct {
		change readerChange
		now    time.Time
		want   time.Duration
	}{
		"nothing added": {now: at(0), want: 0},
		"young consumer: waits until it is surely 2s old": {
			change: readerChange{added: []time.Time{at(0)}}, now: at(500 * time.Millisecond), want: 2500 * time.Millisecond},
		"stamped 2.5s ago, but may be 1.5s old: still waits": {
			change: readerChange{added: []time.Time{at(0)}}, now: at(2500 * time.Millisecond), want: 500 * time.Millisecond},
		"siblings: the youngest decides": {
			change: readerChange{added: []time.Time{at(0), at(time.Second)}}, now: at(1200 * time.Millisecond), want: 2800 * time.Millisecond},
		"settled: applies": {
			change: readerChange{added: []time.Time{at(0), at(time.Second)}}, now: at(4 * time.Second), want: 0},
		"all old (first creation for consumers that existed before): applies": {
			change: readerChange{added: []time.Time{at(0), at(time.Second)}}, now: at(time.Hour), want: 0},
		"a stream of new consumers: the cap shortens the wait": {
			change: readerChange{added: []time.Time{at(0), at(8 * time.Second)}}, now: at(8500 * time.Millisecond), want: 1500 * time.Millisecond},
		"a stream of new consumers: cap reached, applies": {
			change: readerChange{added: []time.Time{at(0), at(9 * time.Second)}}, now: at(10 * time.Second), want: 0},
		"removal only: applies": {
			change: readerChange{revokes: true}, now: at(0), want: 0},
		"removal with a young addition: applies both at once": {
			change: readerChange{added: []time.Time{at(0)}, revokes: true}, now: at(500 * time.Millisecond), want: 0},
		"stamped within a second ahead (small clock skew): waits": {
			change: readerChange{added: []time.Time{at(time.Second)}}, now: at(500 * time.Millisecond), want: 3500 * time.Millisecond},
		"stamped well ahead (the clocks disagree): applies": {
			change: readerChange{added: []time.Time{at(5 * time.Second)}}, now: at(0), want: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := readerDelay(tc.change, tc.now); got != tc.want {
				t.Errorf("readerDelay = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestReaderChangeOf(t *testing.T) {
	const ns = "tenant-acme"
	consumer := func(name string, created time.Duration) twv1.Integration {
		return twv1.Integration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(t0.Add(created))}}
	}
	binding := func(subjects ...rbacv1.Subject) *rbacv1.RoleBinding { return &rbacv1.RoleBinding{Subjects: subjects} }
	tests := map[string]struct {
		live      *rbacv1.RoleBinding
		consumers []twv1.Integration
		want      readerChange
	}{
		"no binding, no consumers": {},
		"no binding: every consumer is added": {consumers: []twv1.Integration{consumer("a", 0), consumer("b", time.Second)},
			want: readerChange{added: []time.Time{t0, t0.Add(time.Second)}}},
		"bound already: nothing changes": {live: binding(readerSubject(ns, "a")), consumers: []twv1.Integration{consumer("a", 0)}},
		"one more consumer": {live: binding(readerSubject(ns, "a")), consumers: []twv1.Integration{consumer("a", 0), consumer("b", time.Minute)},
			want: readerChange{added: []time.Time{t0.Add(time.Minute)}}},
		"a consumer gone": {live: binding(readerSubject(ns, "a"), readerSubject(ns, "b")), consumers: []twv1.Integration{consumer("a", 0)},
			want: readerChange{revokes: true}},
		"every consumer gone": {live: binding(readerSubject(ns, "a")), want: readerChange{revokes: true}},
		"a subject added by hand, and a new consumer": {
			live:      binding(readerSubject(ns, "a"), rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: ns}),
			consumers: []twv1.Integration{consumer("a", 0), consumer("c", time.Minute)},
			want:      readerChange{added: []time.Time{t0.Add(time.Minute)}, revokes: true}},
		"a subject edited by hand to another namespace": {
			live:      binding(readerSubject("tenant-other", "a")),
			consumers: []twv1.Integration{consumer("a", 0)},
			want:      readerChange{added: []time.Time{t0}, revokes: true}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := readerChangeOf(tc.live, tc.consumers)
			if got.revokes != tc.want.revokes || !slices.Equal(got.added, tc.want.added) {
				t.Errorf("readerChangeOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// followRealTime makes the reconcilers' clock follow the wall clock for the test: consumers settle
// by creation times the API server stamps. The test clock is put back afterwards. The returned
// function stops the following early, leaving the clock where it is.
func followRealTime(t *testing.T) (stopFollowing func()) {
	t.Helper()
	prev := fakeClock.Now()
	fakeClock.SetTime(time.Now())
	stop, done := make(chan struct{}), make(chan struct{})
	var once sync.Once
	stopFollowing = func() {
		once.Do(func() {
			close(stop)
			<-done
		})
	}
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				fakeClock.SetTime(time.Now())
			}
		}
	}()
	t.Cleanup(func() {
		stopFollowing()
		fakeClock.SetTime(prev)
	})
	return stopFollowing
}

// bindingWrites counts the creations and modifications a watch has delivered so far.
func bindingWrites(w watch.Interface) int {
	n := 0
	for {
		select {
		case ev := <-w.ResultChan():
			if ev.Type == watch.Added || ev.Type == watch.Modified {
				n++
			}
		case <-time.After(time.Second):
			return n
		}
	}
}

func waitReaders(t *testing.T, ns string, want ...string) *rbacv1.RoleBinding {
	t.Helper()
	rb := &rbacv1.RoleBinding{}
	testenv.Eventually(t, timeout, func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: ReaderName}, rb); err != nil {
			return err
		}
		if got := subjectNames(rb); !slices.Equal(got, want) {
			return fmt.Errorf("keyring readers %v, want %v", got, want)
		}
		return nil
	})
	return rb
}

func subjectNames(rb *rbacv1.RoleBinding) []string {
	var names []string
	for _, s := range rb.Subjects {
		names = append(names, s.Name)
	}
	return names
}

// waitCachedConsumers waits until the manager's cache lists exactly these consumers, so that a
// reconcile sees them.
func waitCachedConsumers(t *testing.T, ns string, sel client.MatchingLabels, want ...string) {
	t.Helper()
	testenv.Eventually(t, timeout, func() error {
		list := &twv1.IntegrationList{}
		if err := reconciler.Client.List(ctx, list, client.InNamespace(ns), sel); err != nil {
			return err
		}
		var got []string
		for _, in := range list.Items {
			if in.DeletionTimestamp.IsZero() {
				got = append(got, in.Name)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return fmt.Errorf("cached consumers %v, want %v", got, want)
		}
		return nil
	})
}

// expectHeldBack reconciles a tenant whose newest consumer is settling: the binding is held back
// and the reconcile comes back when the consumer has settled, not at the next rotation.
func expectHeldBack(t *testing.T, tenant string) {
	t.Helper()
	before := writes.Writes()
	res, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: tenant}})
	if err != nil {
		t.Fatal(err)
	}
	if limit := (readerSettle + creationGranularity) * 11 / 10; res.RequeueAfter <= 0 || res.RequeueAfter > limit {
		t.Errorf("RequeueAfter while a consumer settles = %s, want (0, %s]", res.RequeueAfter, limit)
	}
	// Nothing is applied; only the Tenant's report may change, to say why.
	for _, w := range writes.Since(before) {
		if !strings.HasPrefix(w, "status-patch *v1alpha1.Tenant ") {
			t.Errorf("a reconcile while a consumer settles wrote %s", w)
		}
	}
	// The policy is not Ready while a consumer cannot read the keyring yet. This reconcile may
	// have written nothing: the cache can still hold the report from before the earlier consumers
	// were bound, equal to its own. The manager's reconciler, which bound them, then writes the
	// report it computed before the newest consumer existed; that write wakes it again, and its
	// next report says the consumer is settling.
	testenv.Eventually(t, timeout, func() error {
		if k := tenantReport(t, tenant); k.Reason != twv1.ReasonConsumersSettling {
			return fmt.Errorf("tenant report while a consumer settles is %+v, want reason %s", k, twv1.ReasonConsumersSettling)
		}
		return nil
	})
}

// TestReaderBindingWaitsForSiblingConsumers: Integrations created together, each waking the tenant,
// get the reader binding in one write; before the first consumer there is none.
func TestReaderBindingWaitsForSiblingConsumers(t *testing.T) {
	followRealTime(t)
	ns := "tenant-siblings"
	bindings, err := watcher.Watch(ctx, &rbacv1.RoleBindingList{}, client.InNamespace(ns),
		client.MatchingFields{"metadata.name": ReaderName})
	if err != nil {
		t.Fatal(err)
	}
	defer bindings.Stop()
	createPolicy(t, "siblings", 2)
	createTenant(t, "siblings", "siblings")
	keyringOf(t, "siblings")
	waitPolicyReady(t, "siblings", 1)
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: ReaderName}, &rbacv1.RoleBinding{}); !apierrors.IsNotFound(err) {
		t.Fatalf("reader binding of a tenant without consumers: %v, want none", err)
	}

	// Apart enough that, without settling, each would be bound on its own.
	for _, name := range []string{"a", "b", "c"} {
		createConsumer(t, ns, name, nil)
		time.Sleep(100 * time.Millisecond)
	}
	waitCachedConsumers(t, ns, nil, "a", "b", "c")
	expectHeldBack(t, "siblings")

	waitReaders(t, ns, "a-sync", "b-sync", "c-sync")
	settle(t, "siblings")
	if n := bindingWrites(bindings); n != 1 {
		t.Errorf("the reader binding was written %d times for consumers created together, want 1", n)
	}
}

// TestReaderRevocationDoesNotWait: a consumer that stops being one loses access at the next
// reconcile, even while a new consumer settles.
func TestReaderRevocationDoesNotWait(t *testing.T) {
	stopFollowing := followRealTime(t)
	keys := client.MatchingLabels{"keys": "yes"}
	createPolicy(t, "revoke", 2, func(kp *twv1.KeyPolicy) {
		kp.Spec.Consumers = &metav1.LabelSelector{MatchLabels: keys}
	})
	createTenant(t, "revoke", "revoke")
	ns := "tenant-revoke"
	keyringOf(t, "revoke")
	leaving := createConsumer(t, ns, "a", keys)
	createConsumer(t, ns, "b", keys)
	waitReaders(t, ns, "a-sync", "b-sync")

	// A new consumer is held back; then one stops being a consumer while the new one settles. The
	// clock stops right after the new consumer is created, so that it is still settling however
	// long the rest takes on a loaded machine (on the wall clock it settles in 2 s).
	createConsumer(t, ns, "c", keys)
	stopFollowing()
	waitCachedConsumers(t, ns, keys, "a", "b", "c")
	expectHeldBack(t, "revoke")
	leaving.Labels = map[string]string{"keys": "no"}
	if err := k8s.Update(ctx, leaving); err != nil {
		t.Fatal(err)
	}
	waitCachedConsumers(t, ns, keys, "b", "c")
	if _, err := reconciler.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: "revoke"}}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: ReaderName}, rb); err != nil {
		t.Fatal(err)
	}
	if got := subjectNames(rb); !slices.Equal(got, []string{"b-sync", "c-sync"}) {
		t.Errorf("keyring readers right after the reconcile = %v, want [b-sync c-sync]", got)
	}
}
