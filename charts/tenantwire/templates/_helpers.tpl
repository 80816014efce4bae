{{/*
Resource names are fixed (tenantwire-manager, tenantwire-tenant-admin, ...) and equal to the kustomize
ones: the manager's RBAC names the tenant ClusterRoles it may bind, and the cluster-scoped objects
exist once per cluster. Install the chart once per cluster.
*/}}

{{/* Labels on every object: the chart's own, then commonLabels. */}}
{{- define "tenantwire.labels" -}}
{{ include "tenantwire.chartLabels" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The chart's own labels, for objects that add labels of their own after commonLabels
(tenantwire.labelsWith). */}}
{{- define "tenantwire.chartLabels" -}}
app.kubernetes.io/name: tenantwire
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* commonLabels merged with an object's own labels (a dict, e.g. podLabels), which win where
both set a key; called with (list $ $labels). Written once, so no key appears twice. */}}
{{- define "tenantwire.labelsWith" -}}
{{- $root := index . 0 -}}
{{- $labels := merge (deepCopy (index . 1 | default dict)) (deepCopy ($root.Values.commonLabels | default dict)) -}}
{{- with $labels }}{{ toYaml . }}{{ end }}
{{- end }}

{{/* Labels selecting the manager pods. */}}
{{- define "tenantwire.selectorLabels" -}}
app.kubernetes.io/name: tenantwire
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: manager
{{- end }}

{{/* The manager image, by digest when image.digest is set (it wins over the tag); the sync
workloads run the same one. */}}
{{- define "tenantwire.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}
{{- end }}

{{/* dns.podSelector ("k=v,k=v", the form --dns-pod-selector takes) as matchLabels. */}}
{{- define "tenantwire.dnsMatchLabels" -}}
{{- $labels := dict -}}
{{- range splitList "," .Values.dns.podSelector -}}
{{- $kv := splitn "=" 2 . -}}
{{- $_ := set $labels $kv._0 $kv._1 -}}
{{- end -}}
{{ toYaml $labels }}
{{- end }}

{{/* imagePullSecrets' names, comma-separated, as --sync-image-pull-secrets takes them. */}}
{{- define "tenantwire.pullSecretNames" -}}
{{- $names := list -}}
{{- range .Values.imagePullSecrets -}}
{{- $names = append $names .name -}}
{{- end -}}
{{ join "," $names }}
{{- end }}
