{{/* Names and labels. */}}
{{- define "wss.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "wss.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "wss.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "wss.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: webhook-sender
{{- end -}}

{{/* Selector labels of one role: call with (dict "root" $ "role" "worker"). */}}
{{- define "wss.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wss.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{- define "wss.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "wss.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
terminationGracePeriodSeconds: the kubelet's SIGKILL must come after the process has given up its own drain
(WSS_SHUTDOWN_GRACE_MS) and after the preStop sleep, which counts against the same period.
*/}}
{{- define "wss.terminationGracePeriodSeconds" -}}
{{- $root := .root -}}
{{- $graceSeconds := div (add $root.Values.shutdown.graceMs 999) 1000 -}}
{{- $preStop := ternary $root.Values.shutdown.apiPreStopSleepSeconds 0 (eq .role "api") -}}
{{- add $graceSeconds $preStop $root.Values.shutdown.marginSeconds -}}
{{- end -}}

{{/* The Temporal frontend's port, from host:port. */}}
{{- define "wss.temporalPort" -}}
{{- splitList ":" .Values.temporal.address | last -}}
{{- end -}}

{{/* Does this role's replica count belong to an autoscaler (HPA or KEDA)? */}}
{{- define "wss.autoscaled" -}}
{{- $values := index .root.Values .role -}}
{{- if or $values.autoscaling.enabled (and .root.Values.keda.enabled (has .role (list "consumer" "worker"))) -}}true{{- end -}}
{{- end -}}

{{/* Checks that cannot be said in values.schema.json. */}}
{{- define "wss.validate" -}}
{{- if and .Values.temporal.apiKey.existingSecret (not .Values.temporal.tls) -}}
{{- fail "temporal.tls must be true with temporal.apiKey: the API key would travel in plain text" -}}
{{- end -}}
{{- if and (or .Values.temporal.clientCert.existingSecret .Values.temporal.serverCA.existingSecret) (not .Values.temporal.tls) -}}
{{- fail "temporal.tls must be true with temporal.clientCert or temporal.serverCA: the service refuses TLS certificates with TEMPORAL_TLS=false" -}}
{{- end -}}
{{- if eq (int .Values.ports.api) (int .Values.ports.ops) -}}
{{- fail (printf "ports.ops must differ from ports.api (both %d): the ops listener and the API cannot share a port" (int .Values.ports.api)) -}}
{{- end -}}
{{- /* The fallback is the service's default (test/unit/helm-chart.test.ts compares them). */ -}}
{{- $attemptMs := .Values.config.WSS_HTTP_TOTAL_TIMEOUT_MS | default 15000 | int -}}
{{- if lt (int .Values.shutdown.graceMs) $attemptMs -}}
{{- fail (printf "shutdown.graceMs (%d) must be at least WSS_HTTP_TOTAL_TIMEOUT_MS (%d): a drain shorter than one attempt cancels attempts that would have finished" (int .Values.shutdown.graceMs) $attemptMs) -}}
{{- end -}}
{{- if and .Values.keda.enabled .Values.redis.existingSecret (not .Values.redis.passwordKey) -}}
{{- fail "redis.passwordKey is required with keda.enabled and redis.existingSecret: KEDA's scaler cannot read the password from a URL" -}}
{{- end -}}
{{- if and .Values.networkPolicy.enabled (or (empty .Values.networkPolicy.podCidrs) (empty .Values.networkPolicy.serviceCidrs)) -}}
{{- fail "networkPolicy.podCidrs and networkPolicy.serviceCidrs must name the cluster's ranges when networkPolicy.enabled" -}}
{{- end -}}
{{- range $role := list "api" "consumer" "worker" -}}
{{- $a := (index $.Values $role).autoscaling -}}
{{- if gt (int $a.minReplicas) (int $a.maxReplicas) -}}
{{- fail (printf "%s.autoscaling.minReplicas must not exceed maxReplicas" $role) -}}
{{- end -}}
{{- end -}}
{{- end -}}
