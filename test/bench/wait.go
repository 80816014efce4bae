package main

import (
	"context"
	"fmt"
	"time"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	twv1 "github.com/tenantwire/tenantwire/api/v1alpha1"
	"github.com/tenantwire/tenantwire/internal/conditions"
	twscheme "github.com/tenantwire/tenantwire/internal/scheme"
)

// watchCache starts an informer cache for the kinds a phase waits on. The phases watch, as
// `kubectl wait` does, rather than list: a list of every Deployment, ExternalSecret or Integration
// five times a second cost the API server and the bench a large share of the 2 cores that both
// phases measure. The checks read the cache without copying it (noCopy): deep copies of 9000
// objects five times a second kept the bench at 0.3 of a core through the T=1000 floor.
func watchCache(ctx context.Context, rc *rest.Config, byObject map[client.Object]cache.ByObject) (cache.Cache, func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	cc, err := cache.New(rc, cache.Options{Scheme: twscheme.New(), ByObject: byObject, DefaultTransform: cache.TransformStripManagedFields()})
	if err != nil {
		cancel()
		return nil, nil, err
	}
	for obj := range byObject {
		if _, err := cc.GetInformer(ctx, obj); err != nil {
			cancel()
			return nil, nil, err
		}
	}
	go func() { _ = cc.Start(ctx) }()
	if !cc.WaitForCacheSync(ctx) {
		cancel()
		return nil, nil, fmt.Errorf("bench watch cache did not sync: %w", ctx.Err())
	}
	return cc, cancel, nil
}

// noCopy lists the cache's own objects, which the checks only read.
var noCopy = client.UnsafeDisableDeepCopy

func waitFloor(ctx context.Context, rc *rest.Config, deployments int) error {
	floor := cache.ByObject{Label: k8slabels.SelectorFromSet(k8slabels.Set{"tenantwire-bench": "floor"})}
	cc, stop, err := watchCache(ctx, rc, map[client.Object]cache.ByObject{&appsv1.Deployment{}: floor, &esv1.ExternalSecret{}: floor})
	if err != nil {
		return err
	}
	defer stop()
	return waitFor(ctx, func() (bool, error) {
		ds := &appsv1.DeploymentList{}
		if err := cc.List(ctx, ds, noCopy); err != nil {
			return false, err
		}
		available := 0
		for _, d := range ds.Items {
			if d.Status.AvailableReplicas >= 1 && d.Status.ObservedGeneration >= d.Generation {
				available++
			}
		}
		es := &esv1.ExternalSecretList{}
		if err := cc.List(ctx, es, noCopy); err != nil {
			return false, err
		}
		synced := 0
		for _, e := range es.Items {
			for _, cond := range e.Status.Conditions {
				if cond.Type == esv1.ExternalSecretReady && cond.Status == corev1.ConditionTrue {
					synced++
				}
			}
		}
		return available == deployments && synced == 2*deployments, nil
	})
}

func waitOperator(ctx context.Context, rc *rest.Config, cfg config) error {
	all := cache.ByObject{Label: k8slabels.Everything()}
	cc, stop, err := watchCache(ctx, rc, map[client.Object]cache.ByObject{&twv1.Tenant{}: all, &twv1.Integration{}: all, &twv1.KeyPolicy{}: all})
	if err != nil {
		return err
	}
	defer stop()
	last := time.Now()
	return waitFor(ctx, func() (bool, error) {
		ts := &twv1.TenantList{}
		if err := cc.List(ctx, ts, noCopy); err != nil {
			return false, err
		}
		is := &twv1.IntegrationList{}
		if err := cc.List(ctx, is, noCopy); err != nil {
			return false, err
		}
		kp := &twv1.KeyPolicy{}
		if err := cc.Get(ctx, client.ObjectKey{Name: benchPolicy.Name}, kp); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		readyT, readyI := 0, 0
		for _, t := range ts.Items {
			if conditions.IsTrue(t.Status.Conditions, twv1.ConditionReady) {
				readyT++
			}
		}
		for _, in := range is.Items {
			if conditions.IsTrue(in.Status.Conditions, twv1.ConditionReady) {
				readyI++
			}
		}
		kpReady := conditions.IsTrue(kp.Status.Conditions, twv1.ConditionReady) && int(kp.Status.TenantCount) == cfg.Tenants
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			fmt.Printf("   ... %d/%d tenants, %d/%d integrations Ready, keypolicy covers %d\n", readyT, cfg.Tenants, readyI, cfg.Tenants*cfg.Integrations, kp.Status.TenantCount)
		}
		return readyT == cfg.Tenants && readyI == cfg.Tenants*cfg.Integrations && kpReady, nil
	})
}
