// Package devsync runs an Integration's sync runtime on this machine for the simulated cluster.
// kwok's pods are Ready but run no containers, so `make run` and the end-to-end suite run
// `tenantwire sync` here instead: with the files its pod mounts copied from the cluster and its
// vendors replaced by fakes on loopback (internal/connector/fakesystem).
package devsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Kubectl runs kubectl against the cluster with stdin as input and returns its stdout.
type Kubectl func(ctx context.Context, stdin string, args ...string) (string, error)

// pod is what the runtime needs of the sync Deployment's pod: its arguments and its mounts,
// laid out under root.
type pod struct {
	root       string
	container  string
	args       []string
	selector   map[string]string
	configFile string
}

// local is where a path of the pod is on this machine.
func (p *pod) local(path string) string { return filepath.Join(p.root, path) }

// layOut reads the sync Deployment of integration and writes every ConfigMap and Secret its
// container mounts under root, at the mount paths, as the kubelet would.
func layOut(ctx context.Context, kubectl Kubectl, namespace, integration, root string) (*pod, error) {
	// The operator names the Deployment after the Integration (controllers/integration syncName).
	var deploy appsv1.Deployment
	if err := getJSON(ctx, kubectl, &deploy, "get", "deployment", integration+"-sync", "-n", namespace); err != nil {
		return nil, err
	}
	spec := deploy.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		return nil, fmt.Errorf("deployment %s/%s-sync has %d containers, want the one sync container", namespace, integration, len(spec.Containers))
	}
	c := spec.Containers[0]
	p := &pod{root: root, container: c.Name, args: c.Args, selector: deploy.Spec.Selector.MatchLabels}
	if i := slices.Index(c.Args, "--config"); i >= 0 && i+1 < len(c.Args) {
		p.configFile = c.Args[i+1]
	}
	if p.configFile == "" {
		return nil, fmt.Errorf("the sync container's arguments %q name no --config", c.Args)
	}
	for _, m := range c.VolumeMounts {
		i := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name })
		if i < 0 {
			return nil, fmt.Errorf("volume %q of mount %s is not in the pod", m.Name, m.MountPath)
		}
		if err := p.mount(ctx, kubectl, namespace, spec.Volumes[i].VolumeSource, m.MountPath); err != nil {
			return nil, fmt.Errorf("volume %q at %s: %w", m.Name, m.MountPath, err)
		}
	}
	return p, nil
}

// mount writes one volume's files; only the kinds the operator renders are known.
func (p *pod) mount(ctx context.Context, kubectl Kubectl, namespace string, v corev1.VolumeSource, path string) error {
	dir := p.local(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var files map[string][]byte
	switch {
	case v.ConfigMap != nil:
		var cm corev1.ConfigMap
		if err := getJSON(ctx, kubectl, &cm, "get", "configmap", v.ConfigMap.Name, "-n", namespace); err != nil {
			return err
		}
		files = map[string][]byte{}
		for k, s := range cm.Data {
			files[k] = []byte(s)
		}
	case v.Secret != nil:
		var s corev1.Secret
		if err := getJSON(ctx, kubectl, &s, "get", "secret", v.Secret.SecretName, "-n", namespace); err != nil {
			return err
		}
		files = s.Data
	case v.EmptyDir != nil, v.PersistentVolumeClaim != nil:
		return nil
	case v.Projected != nil:
		// The token writer's projected ServiceAccount token: a kubelet's to request, and the
		// runtime here writes no token back (Runtime drops tokenWriter).
		return nil
	default:
		return errors.New("not a ConfigMap, Secret, projected token, emptyDir or claim")
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// getJSON reads one object; a failure reports kubectl's error, never the object.
func getJSON(ctx context.Context, kubectl Kubectl, into any, args ...string) error {
	out, err := kubectl(ctx, "", append(args, "-o", "json")...)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(out), into)
}
