import * as otel from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpGrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { Resource, envDetectorSync } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-node';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  makeWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry/lib/worker';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry/lib/workflow/definitions';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { TraceHeaders } from '../domain/trace-context';
import type { Config } from './config';
import type { Logger } from './logger';
import { statusClass } from './metrics';

/**
 * OpenTelemetry tracing, opt-in through OpenTelemetry's own environment variables (see {@link tracingSettings}).
 *
 * One trace follows an event from its producer to every receiver:
 * - `wss.consume` (consumer, kind CONSUMER): one span per stream entry, the child of the producer's `traceparent`
 *   when the entry carries a valid one, else a new trace;
 * - `StartWorkflow:deliverEvent` (consumer): the workflow start; the Temporal client interceptor puts the trace
 *   context in the start's headers;
 * - `RunWorkflow:deliverEvent` and `StartActivity:deliverWebhook` (worker, from inside the workflow sandbox through
 *   the `exporter` sink);
 * - `RunActivity:deliverWebhook` (worker): one span per delivery attempt, with the attempt's attributes. An
 *   endpoint with `sendTraceparent` gets this span's `traceparent` (and the producer's `tracestate`).
 *
 * Spans carry ids, counts, outcomes and status classes only: never payload, secrets, headers or URLs.
 */

export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';

export type TracingSettings =
  | { readonly enabled: false; readonly why: string }
  | {
      readonly enabled: true;
      readonly exporter: 'otlp' | 'console';
      readonly protocol: OtlpProtocol;
      readonly serviceName: string | undefined;
    };

type TracingConfig = Pick<
  Config,
  | 'OTEL_SDK_DISABLED'
  | 'OTEL_TRACES_EXPORTER'
  | 'OTEL_EXPORTER_OTLP_ENDPOINT'
  | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'
  | 'OTEL_EXPORTER_OTLP_PROTOCOL'
  | 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
  | 'OTEL_SERVICE_NAME'
>;

/**
 * Whether tracing is on, from OpenTelemetry's standard variables:
 * 1. `OTEL_SDK_DISABLED=true` turns it off, whatever else is set;
 * 2. `OTEL_TRACES_EXPORTER=none` turns it off; `otlp` or `console` turn it on;
 * 3. unset, it is on when an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
 *    `OTEL_EXPORTER_OTLP_ENDPOINT`), and off otherwise. (The SDK's own default exporter is `otlp` to
 *    localhost:4318; a service that is not asked to trace sends nothing anywhere.)
 */
export function tracingSettings(config: TracingConfig): TracingSettings {
  if (config.OTEL_SDK_DISABLED) return { enabled: false, why: 'OTEL_SDK_DISABLED=true' };
  const exporter =
    config.OTEL_TRACES_EXPORTER ??
    (config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined || config.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined
      ? 'otlp'
      : 'none');
  if (exporter === 'none') {
    return {
      enabled: false,
      why: config.OTEL_TRACES_EXPORTER === 'none' ? 'OTEL_TRACES_EXPORTER=none' : 'no OTLP endpoint set',
    };
  }
  return {
    enabled: true,
    exporter,
    protocol: config.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? config.OTEL_EXPORTER_OTLP_PROTOCOL,
    serviceName: config.OTEL_SERVICE_NAME,
  };
}

/** What a role needs from tracing. With tracing off every part is inert and nothing is exported. */
export interface Tracing {
  readonly enabled: boolean;
  /** For the Temporal client that starts deliveries: the start carries the trace context in its headers. */
  readonly clientInterceptors: readonly WorkflowClientInterceptor[];
  /** For the worker: the attempt spans. */
  readonly activityInterceptors: readonly ActivityInterceptorsFactory[];
  /**
   * For the worker: the sink the workflow spans leave the sandbox through. Registered also with tracing off (then
   * it drops them), because the workflow interceptors are always bundled (`src/workflows/interceptors.ts`).
   */
  readonly sinks: InjectedSinks<OpenTelemetrySinks>;
  /** Exports the spans still buffered and stops. */
  shutdown(): Promise<void>;
}

/** Tracing off: no provider, no exporter; the workflow spans' sink drops them. */
export const TRACING_OFF: Tracing = {
  enabled: false,
  clientInterceptors: [],
  activityInterceptors: [],
  sinks: { exporter: { export: { fn: () => undefined } } },
  shutdown: async () => undefined,
};

const TRACER_NAME = 'webhook-sender-service';
const w3c = new W3CTraceContextPropagator();

/**
 * Starts tracing for this process when {@link tracingSettings} say so: registers the global tracer provider
 * (context manager and W3C propagators) with a batch span processor in front of the OTLP exporter. The exporter
 * reads its own variables (endpoint, headers, timeout, TLS files); the SDK reads the sampler and batch settings.
 */
export function startTracing(config: TracingConfig, log: Logger, defaultServiceName: string): Tracing {
  const settings = tracingSettings(config);
  if (!settings.enabled) {
    log.debug({ why: settings.why }, 'tracing off');
    return TRACING_OFF;
  }
  otel.diag.setLogger(diagLogger(log), otel.DiagLogLevel.WARN);
  const resource = Resource.default()
    .merge(new Resource({ 'service.name': settings.serviceName ?? defaultServiceName }))
    // OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, as every OpenTelemetry SDK reads them.
    .merge(envDetectorSync.detect());
  const processor: SpanProcessor = new BatchSpanProcessor(createExporter(settings));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  provider.register();
  const tracer = provider.getTracer(TRACER_NAME);
  log.info(
    { exporter: settings.exporter, protocol: settings.protocol, serviceName: resource.attributes['service.name'] },
    'tracing on',
  );
  return {
    enabled: true,
    clientInterceptors: [new OpenTelemetryWorkflowClientInterceptor({ tracer })],
    activityInterceptors: [
      (ctx) => ({
        inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer }),
        outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
      }),
    ],
    sinks: { exporter: makeWorkflowExporter(processor, resource) },
    shutdown: async () => {
      await provider.shutdown().catch((err: unknown) => log.warn({ err: String(err) }, 'tracing shutdown failed'));
    },
  };
}

function createExporter(settings: Extract<TracingSettings, { enabled: true }>): SpanExporter {
  if (settings.exporter === 'console') return new ConsoleSpanExporter();
  switch (settings.protocol) {
    case 'http/protobuf':
      return new OtlpProtobufExporter();
    case 'http/json':
      return new OtlpJsonExporter();
    case 'grpc':
      return new OtlpGrpcExporter();
    default: {
      const unreachable: never = settings.protocol;
      throw new Error(`unknown OTLP protocol ${String(unreachable)}`);
    }
  }
}

/** The SDK's own warnings (an export that failed, a dropped span) as our log lines. */
function diagLogger(log: Logger): otel.DiagLogger {
  const write = (level: 'warn' | 'error') => (message: string) =>
    log[level]({ component: 'opentelemetry' }, `tracing: ${message}`);
  const ignore = () => undefined;
  return { error: write('error'), warn: write('warn'), info: ignore, debug: ignore, verbose: ignore };
}

/** The attributes of the consumer's span that are known before the entry is handled. */
export interface ConsumeSpanStart {
  readonly entryId: string;
  /** The producer's trace context: the span's parent. Absent: the span starts a new trace. */
  readonly parent?: TraceHeaders;
}

/**
 * Runs `work` inside the consumer's span of one stream entry (a no-op span when tracing is off). The workflow
 * start made inside it is its child. An error ends the span as an error, named by its class only (a message could
 * quote a payload).
 */
export async function inConsumeSpan<T>(start: ConsumeSpanStart, work: (span: otel.Span) => Promise<T>): Promise<T> {
  const parent =
    start.parent !== undefined
      ? w3c.extract(otel.ROOT_CONTEXT, { ...start.parent }, otel.defaultTextMapGetter)
      : otel.ROOT_CONTEXT;
  const options: otel.SpanOptions = {
    kind: otel.SpanKind.CONSUMER,
    attributes: { 'messaging.system': 'redis', 'messaging.operation.type': 'process', 'messaging.message.id': start.entryId },
  };
  return otel.trace.getTracer(TRACER_NAME).startActiveSpan('wss.consume', options, parent, async (span) => {
    try {
      return await work(span);
    } catch (err) {
      span.setStatus({ code: otel.SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** What the delivery activity reports of one attempt (structurally `AttemptRecord` of `activities/`). */
export interface TracedAttempt {
  readonly tenantId: string;
  readonly eventId: string;
  readonly endpointId: string;
  readonly attempt: number;
  readonly outcome: string;
  readonly statusCode?: number;
  readonly sent?: { readonly statusCode?: number; readonly reason?: string };
}

/** Puts an attempt's attributes on the active span: the activity's `RunActivity` span while the attempt runs. */
export function recordAttemptOnSpan(record: TracedAttempt): void {
  const span = otel.trace.getActiveSpan();
  if (span === undefined || !span.isRecording()) return;
  span.setAttributes({
    'wss.tenant_id': record.tenantId,
    'wss.event_id': record.eventId,
    'wss.endpoint_id': record.endpointId,
    'wss.attempt': record.attempt,
    'wss.outcome': record.outcome,
    ...(record.sent !== undefined ? { 'wss.http.status_class': statusClass(record.sent) } : {}),
    ...(record.statusCode !== undefined ? { 'http.response.status_code': record.statusCode } : {}),
  });
}

/**
 * The W3C headers of the active span (a delivery attempt's), for an endpoint that opted in; undefined when no
 * span is active, as always with tracing off. The tracestate is the trace's (the producer's, carried along).
 */
export function activeTraceHeaders(): TraceHeaders | undefined {
  const carrier: Record<string, string> = {};
  w3c.inject(otel.context.active(), carrier, otel.defaultTextMapSetter);
  const traceparent = carrier.traceparent;
  if (traceparent === undefined) return undefined;
  return { traceparent, ...(carrier.tracestate !== undefined ? { tracestate: carrier.tracestate } : {}) };
}
