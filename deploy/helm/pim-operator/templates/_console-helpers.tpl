{{/* Names and labels of the console (pim-console), kept apart from the operator's. */}}

{{- define "pim-operator.console.fullname" -}}
{{- printf "%s-console" (include "pim-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pim-operator.console.selectorLabels" -}}
app.kubernetes.io/name: pim-console
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "pim-operator.console.labels" -}}
helm.sh/chart: {{ include "pim-operator.chart" . }}
{{ include "pim-operator.console.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: pim-operator
app.kubernetes.io/component: console
{{- end }}

{{- define "pim-operator.console.serviceAccountName" -}}
{{- default (include "pim-operator.console.fullname" .) .Values.console.serviceAccount.name }}
{{- end }}

{{/* The namespace whose models and instances the console manages: one the operator watches. */}}
{{- define "pim-operator.console.namespace" -}}
{{- if .Values.console.namespace }}
{{- .Values.console.namespace }}
{{- else if eq .Values.rbac.scope "namespaced" }}
{{- first (splitList "," (include "pim-operator.watchNamespaces" .)) }}
{{- else }}
{{- .Release.Namespace }}
{{- end }}
{{- end }}

{{- define "pim-operator.console.library" -}}
{{- if .Values.console.library.name }}
{{- .Values.console.library.name }}
{{- else }}
{{- printf "%s-library" (include "pim-operator.console.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
