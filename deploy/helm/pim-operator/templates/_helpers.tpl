{{/* Names, labels and the operator's RBAC rules, shared by the templates. */}}

{{- define "pim-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pim-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "pim-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pim-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pim-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "pim-operator.labels" -}}
helm.sh/chart: {{ include "pim-operator.chart" . }}
{{ include "pim-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pim-operator
{{- end }}

{{- define "pim-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pim-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create=false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "pim-operator.metricsService" -}}
{{- printf "%s-metrics" (include "pim-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The namespaces a namespaced install watches; fails on a cluster install that names any. A
cluster install watches every namespace but those excludeNamespaces names ("!pattern" for kopf). */}}
{{- define "pim-operator.watchNamespaces" -}}
{{- if eq .Values.rbac.scope "namespaced" }}
{{- if .Values.watchNamespaces }}
{{- join "," (uniq .Values.watchNamespaces) }}
{{- else }}
{{- .Release.Namespace }}
{{- end }}
{{- else if .Values.watchNamespaces }}
{{- fail "watchNamespaces needs rbac.scope=namespaced (a cluster-scoped install watches every namespace)" }}
{{- else if .Values.excludeNamespaces }}
{{- $patterns := list }}
{{- range .Values.excludeNamespaces }}{{ $patterns = append $patterns (printf "!%s" .) }}{{ end }}
{{- join "," $patterns }}
{{- end }}
{{- end }}

{{/* The Lease the replicas elect their leader on (in the release namespace). */}}
{{- define "pim-operator.lease" -}}
{{- include "pim-operator.fullname" . }}
{{- end }}

{{/* The leader election timing, checked as client-go checks it. */}}
{{- define "pim-operator.leaderElection" -}}
{{- $le := .Values.leaderElection }}
{{- if not (and (gt (float64 $le.leaseDuration) (float64 $le.renewDeadline)) (gt (float64 $le.renewDeadline) (float64 $le.retryPeriod))) }}
{{- fail "leaderElection needs leaseDuration > renewDeadline > retryPeriod" }}
{{- end }}
{{- end }}

{{/* The labels of the pods (operator and console) every instance's NetworkPolicy admits. */}}
{{- define "pim-operator.accessPodLabels" -}}
app.kubernetes.io/instance={{ .Release.Name }},app.kubernetes.io/part-of=pim-operator
{{- end }}

{{/* k=v,... of a map of labels, for the operator's flags. */}}
{{- define "pim-operator.labelList" -}}
{{- $out := list }}
{{- range $k, $v := . }}{{ $out = append $out (printf "%s=%s" $k $v) }}{{ end }}
{{- join "," $out }}
{{- end }}

{{- define "pim-operator.engineImage" -}}
{{- printf "%s:%s" .Values.engine.image.repository .Values.engine.image.tag }}
{{- end }}

{{/*
What the operator does to its objects, in watched namespaces: no wildcards. Children are written by
server-side apply, a patch that needs `create` as well when the object does not exist yet.
*/}}
{{- define "pim-operator.namespacedRules" -}}
- apiGroups: [pim.dev]
  resources: [pimmodels, piminstances]
  verbs: [get, list, watch]
- apiGroups: [pim.dev]
  resources: [pimmodels/status, piminstances/status]
  verbs: [get, patch]
# The probes scrape /metrics of instances with auth on, with the operator's own token.
- apiGroups: [pim.dev]
  resources: [piminstances/metrics]
  verbs: [get]
- apiGroups: [""]
  resources: [configmaps, services, persistentvolumeclaims, serviceaccounts]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [postgresql.cnpg.io]
  resources: [clusters]
  verbs: [get, list, watch, create, patch, delete]
# Only the Secrets that instances reference (database URIs, API keys), each read or watched by
# name: no list, so the operator never holds the namespace's Secrets (nor could it enumerate them).
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, watch]
- apiGroups: [monitoring.coreos.com]
  resources: [servicemonitors]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end }}
