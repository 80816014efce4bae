{{/*
Resource names are fixed (tenantwire-manager, tenantwire-tenant-admin, ...) and equal to the kustomize
ones: the manager's RBAC names the tenant ClusterRoles it may bind, and the cluster-scoped objects
exist once per cluster. Install the chart once per cluster.
*/}}

{{/* Labels on every object. */}}
{{- define "tenantwire.labels" -}}
app.kubernetes.io/name: tenantwire
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
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
