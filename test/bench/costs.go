package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/apply"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
)

// The request-cost mode (-request-costs) answers what the phases' own figures cannot: what the
// API server spends on each kind of request in which the operator phase differs from the floor.
// The phases compare whole, on a machine whose load moves the ratio by more than any one kind of
// request; here each kind runs alone, in batches interleaved with the others on one simulated
// cluster, and the CPU the API server and etcd use from the batch's start until costSettle after
// it (the controller-manager's and kwok's follow-ups included) is divided by its requests.

// costSettle is the quiet time before each batch and the follow-up time after it.
const costSettle = 15 * time.Second

// costBatch is the tenants whose children one batch writes (42 objects each at 3 integrations:
// the floor's set without its ExternalSecrets, so that ESO stays idle).
const costBatch = 40

// costFigure is what one batch of one kind of request cost.
type costFigure struct {
	Kind      string
	Requests  int64
	APIServer float64 // CPU-seconds
	Etcd      float64
}

// less returns f without what the idle cluster uses a second (idle) over secs seconds.
func (f costFigure) less(idle costFigure, secs float64) costFigure {
	f.APIServer -= idle.APIServer * secs
	f.Etcd -= idle.Etcd * secs
	return f
}

func (f costFigure) String() string {
	return fmt.Sprintf("%-44s %6d requests: kube-apiserver %5.2f ms, etcd %4.2f ms a request", f.Kind, f.Requests,
		1000*f.APIServer/float64(f.Requests), 1000*f.Etcd/float64(f.Requests))
}

// runRequestCosts starts a simulated cluster, measures each kind of request in rounds and writes
// one line a batch to w.
func runRequestCosts(ctx context.Context, cfg config, rounds int, w io.Writer) error {
	// The store and the nodes are sized for the namespaces the batches create.
	cfg.Tenants = 2 * rounds * costBatch
	c, err := startCluster(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.stop()
	scheme := twscheme.New()
	// window runs n writes, each of which reports its requests, between two quiet times, and
	// returns what the API server and etcd used over the window and how long it lasted.
	window := func(kind string, n int, write func(ctx context.Context, i int) (int, error)) (costFigure, float64, error) {
		if err := sleep(ctx, costSettle); err != nil {
			return costFigure{}, 0, err
		}
		before, err := takeCPUSnapshot()
		if err != nil {
			return costFigure{}, 0, err
		}
		start := time.Now()
		var requests atomic.Int64
		if err := forEach(ctx, n, cfg.Concurrency, func(ctx context.Context, i int) error {
			k, err := write(ctx, i)
			requests.Add(int64(k))
			return err
		}); err != nil {
			return costFigure{}, 0, fmt.Errorf("%s: %w", kind, err)
		}
		if err := sleep(ctx, costSettle); err != nil {
			return costFigure{}, 0, err
		}
		after, err := takeCPUSnapshot()
		if err != nil {
			return costFigure{}, 0, err
		}
		return costFigure{Kind: kind, Requests: requests.Load(),
			APIServer: after.byLabel["kube-apiserver"] - before.byLabel["kube-apiserver"],
			Etcd:      after.byLabel["etcd"] - before.byLabel["etcd"]}, time.Since(start).Seconds(), nil
	}
	// idle is what the API server and etcd use a second with no request of ours (leases, kwok's
	// node heartbeats, the watch caches' checks); each batch is charged only what it adds to that.
	var idle costFigure
	measureIdle := func() error {
		f, secs, err := window("nothing (the idle cluster)", 0, nil)
		if err != nil {
			return err
		}
		idle = costFigure{Kind: f.Kind, APIServer: f.APIServer / secs, Etcd: f.Etcd / secs}
		_, err = fmt.Fprintf(w, "%-44s kube-apiserver %.3f, etcd %.3f CPU-seconds a second\n", idle.Kind, idle.APIServer, idle.Etcd)
		return err
	}
	measure := func(kind string, n int, write func(ctx context.Context, i int) (int, error)) error {
		f, secs, err := window(kind, n, write)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, f.less(idle, secs))
		return err
	}
	children := func(tenant int, write func(ctx context.Context, o client.Object) error) func(ctx context.Context, i int) (int, error) {
		return func(ctx context.Context, i int) (int, error) {
			objs, err := floorObjects(tenant+i, cfg.Integrations)
			if err != nil {
				return 0, err
			}
			n := 0
			for _, o := range objs {
				if _, ok := o.(*esv1.ExternalSecret); ok {
					continue
				}
				if err := write(ctx, o); err != nil {
					return n, fmt.Errorf("%T %s: %w", o, o.GetName(), err)
				}
				n++
			}
			return n, nil
		}
	}
	create := func(ctx context.Context, o client.Object) error { return c.floorClient.Create(ctx, o) }
	// As the operator's Applier sends it (internal/apply).
	serverSideApply := func(ctx context.Context, o client.Object) error {
		intent, err := apply.Intent(o, scheme)
		if err != nil {
			return err
		}
		patch, err := apply.PatchOf(intent)
		if err != nil {
			return err
		}
		return c.floorClient.Patch(ctx, o, patch, client.FieldOwner("tenantwire-bench"), client.ForceOwnership)
	}
	for round := range rounds {
		if err := measureIdle(); err != nil {
			return err
		}
		// Two batches of tenants a round, one created and one applied, in alternating order.
		created, applied := 2*round*costBatch, (2*round+1)*costBatch
		batches := []func() error{
			func() error { return measure("children: create (the floor)", costBatch, children(created, create)) },
			func() error {
				return measure("children: server-side apply (the operator)", costBatch, children(applied, serverSideApply))
			},
		}
		if round%2 == 1 {
			batches[0], batches[1] = batches[1], batches[0]
		}
		for _, b := range batches {
			if err := b(); err != nil {
				return err
			}
		}
	}
	return measureCustomResources(c, 2*rounds*costBatch, measure)
}

// costPerNamespace is how many of each custom-resource request go to one namespace.
const costPerNamespace = 4

// measureCustomResources measures, in the namespaces the child batches made, the operator phase's
// requests the floor has no counterpart of: the users' Tenants and Integrations, the operator's
// status writes, and uncached gets.
func measureCustomResources(c *cluster, namespaces int,
	measure func(kind string, n int, write func(ctx context.Context, i int) (int, error)) error) error {
	n := namespaces * costPerNamespace
	// The i-th request's namespace and Integration.
	ns := func(i int) string { return benchTenant("floor", i%namespaces).NamespaceName() }
	name := func(i int) string { return fmt.Sprintf("sync-%d", i/namespaces) }
	// A first Integration status, as the operator's status writer sends it (a merge patch).
	status, err := json.Marshal(map[string]any{"status": twv1.IntegrationStatus{ObservedGeneration: 1, Tenant: "floor-0000",
		FlowDigest: "sha256:0f3c6b1d2e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c",
		Conditions: []metav1.Condition{{Type: twv1.ConditionReady, Status: metav1.ConditionFalse, Reason: "CredentialsPending",
			Message: "waiting for External Secrets to sync the credentials", LastTransitionTime: metav1.Now(), ObservedGeneration: 1}}}})
	if err != nil {
		return err
	}
	steps := []struct {
		kind  string
		write func(ctx context.Context, i int) error
	}{
		{"Tenant create", func(ctx context.Context, i int) error {
			return c.client.Create(ctx, benchTenant("cost", i))
		}},
		{"Integration create", func(ctx context.Context, i int) error {
			in := benchIntegration(ns(i), 0)
			in.Name = name(i)
			return c.client.Create(ctx, in)
		}},
		{"Integration status (merge patch)", func(ctx context.Context, i int) error {
			in := &twv1.Integration{ObjectMeta: metav1.ObjectMeta{Namespace: ns(i), Name: name(i)}}
			return c.floorClient.Status().Patch(ctx, in, client.RawPatch(types.MergePatchType, status))
		}},
		{"Integration get (uncached)", func(ctx context.Context, i int) error {
			return c.floorClient.Get(ctx, client.ObjectKey{Namespace: ns(i), Name: name(i)}, &twv1.Integration{})
		}},
		{"Namespace get (uncached)", func(ctx context.Context, i int) error {
			return c.client.Get(ctx, client.ObjectKey{Name: ns(i)}, &corev1.Namespace{})
		}},
	}
	for _, s := range steps {
		if err := measure(s.kind, n, func(ctx context.Context, i int) (int, error) { return 1, s.write(ctx, i) }); err != nil {
			return err
		}
	}
	return nil
}
