{{- define "trafficstore.labels" -}}
app.kubernetes.io/name: trafficstore
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "trafficstore.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
