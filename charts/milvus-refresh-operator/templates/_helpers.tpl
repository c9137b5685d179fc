{{/* The chart's name. */}}
{{- define "mro.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Object names: the release name, or <release>-<chart> when the release name does not contain the chart's. */}}
{{- define "mro.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "mro.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "mro.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mro.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mro.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mro.labels" -}}
{{ include "mro.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "mro.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "mro.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "mro.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The rules the operator needs on ExternalCollectionRefresh objects, events and Secrets (docs/install.md#rbac). */}}
{{- define "mro.operatorRules" -}}
- apiGroups: [milvus.io]
  resources: [externalcollectionrefreshes]
  verbs: [get, list, watch]
- apiGroups: [milvus.io]
  resources: [externalcollectionrefreshes/status]
  verbs: [patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
{{- end -}}

{{/* A Prometheus duration (30s, 15m, 1h, 2d) in seconds. */}}
{{- define "mro.seconds" -}}
{{- $d := toString . -}}
{{- $n := int (trimSuffix "s" (trimSuffix "m" (trimSuffix "h" (trimSuffix "d" $d)))) -}}
{{- if hasSuffix "d" $d }}{{ mul $n 86400 }}{{ else if hasSuffix "h" $d }}{{ mul $n 3600 }}{{ else if hasSuffix "m" $d }}{{ mul $n 60 }}{{ else }}{{ $n }}{{ end -}}
{{- end -}}
