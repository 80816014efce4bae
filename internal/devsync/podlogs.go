package devsync

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// ShowInPodLogs makes `kubectl logs` of the sync Deployment's current pods print this runtime's
// log: kwok's kubelet API serves a pod's log from the file a kwok Logs object names (the
// simulated cluster enables that kind, see hack/dev-cluster.sh). A pod the Deployment rolls to
// later has no log until the runtime is started again.
func (r *Runtime) ShowInPodLogs(ctx context.Context) error {
	out, err := r.opts.Kubectl(ctx, "", "get", "pods", "-n", r.opts.Namespace,
		"-l", labels.SelectorFromSet(r.pod.selector).String(), "-o", "jsonpath={.items[*].metadata.name}")
	if err != nil {
		return err
	}
	pods := strings.Fields(out)
	if len(pods) == 0 {
		return fmt.Errorf("deployment %s-sync has no pods", r.opts.Integration)
	}
	var docs []string
	for _, name := range pods {
		doc, err := yaml.Marshal(map[string]any{
			"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs",
			"metadata": map[string]any{"name": name, "namespace": r.opts.Namespace},
			"spec": map[string]any{"logs": []any{map[string]any{
				"containers": []string{r.pod.container}, "logsFile": r.PodLogFile, "follow": true,
			}}},
		})
		if err != nil {
			return err
		}
		docs = append(docs, string(doc))
	}
	_, err = r.opts.Kubectl(ctx, strings.Join(docs, "---\n"), "apply", "--server-side", "-f", "-")
	return err
}
