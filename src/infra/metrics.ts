import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ThrottleReason } from '../domain/flow-control';

/**
 * The service's Prometheus metrics, declared once: names, help texts, labels and the role that emits each. The
 * README's metric table is generated from {@link METRICS} (`npm run docs`), and the alert rules and the dashboard
 * under deploy/ use these names, so a rename here is a breaking change for operators.
 *
 * The `tenant` label is added only with `WSS_METRICS_TENANT_LABEL=true`: tenant ids are unbounded, and each tenant
 * adds up to about 60 series per worker (most of them histogram buckets).
 */

type MetricKind = 'counter' | 'gauge' | 'histogram';
type Role = 'worker' | 'consumer' | 'consumer, api';
/** A process role; the all-in-one runs all three. */
export type ProcessRole = 'api' | 'consumer' | 'worker';

interface MetricSpec {
  readonly name: string;
  readonly kind: MetricKind;
  readonly help: string;
  /** Label names and, for the table, their values. */
  readonly labels: Readonly<Record<string, readonly string[]>>;
  /** Whether `WSS_METRICS_TENANT_LABEL=true` adds a `tenant` label. */
  readonly perTenant: boolean;
  readonly role: Role;
  readonly buckets?: readonly number[];
}

/** Histogram buckets, in seconds, for one HTTP attempt: the HTTP client's deadline is 15 s by default. */
const ATTEMPT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60];
/** From the stream entry to the receiver's 2xx: milliseconds when all is well, hours when retries were needed. */
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 4 * 3600, 12 * 3600, 86_400];

export const DELIVERY_OUTCOMES = ['delivered', 'failed', 'skipped', 'cancelled'] as const;
export const ATTEMPT_RESULTS = ['success', 'retry', 'permanent'] as const;
export const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx', 'timeout', 'network'] as const;
export const ENTRY_RESULTS = ['started', 'duplicate', 'dead_letter', 'no_subscribers'] as const;
export const DISABLE_REASONS = ['gone', 'failing'] as const;
export const THROTTLE_REASONS = ['paused', 'in_flight', 'rate'] as const satisfies readonly ThrottleReason[];

export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];
export type AttemptResult = (typeof ATTEMPT_RESULTS)[number];
export type StatusClass = (typeof STATUS_CLASSES)[number];
export type EntryResult = (typeof ENTRY_RESULTS)[number];

export const METRICS = {
  deliveries: {
    name: 'wss_deliveries_total',
    kind: 'counter',
    help: 'Final outcome per event and endpoint. cancelled: the delivery workflow was cancelled before this endpoint finished.',
    labels: { outcome: DELIVERY_OUTCOMES },
    perTenant: true,
    role: 'worker',
  },
  attempts: {
    name: 'wss_delivery_attempts_total',
    kind: 'counter',
    help: 'HTTP delivery attempts (requests sent or tried to send). result: success, retry (another attempt is scheduled) or permanent (no further attempt).',
    labels: { result: ATTEMPT_RESULTS, status_class: STATUS_CLASSES },
    perTenant: true,
    role: 'worker',
  },
  attemptDuration: {
    name: 'wss_delivery_attempt_duration_seconds',
    kind: 'histogram',
    help: 'Duration of one HTTP attempt: from sending the request to the answer (or the transport error).',
    labels: {},
    perTenant: true,
    role: 'worker',
    buckets: ATTEMPT_BUCKETS,
  },
  latency: {
    name: 'wss_delivery_latency_seconds',
    kind: 'histogram',
    help: "From the stream entry's time (its id: when Redis accepted the event) to the receiver's 2xx. Operator retries and replays are not observed.",
    labels: {},
    perTenant: true,
    role: 'worker',
    buckets: LATENCY_BUCKETS,
  },
  entries: {
    name: 'wss_consumer_entries_total',
    kind: 'counter',
    help: 'Stream entries the consumer handled, by result. duplicate also counts an entry read again whose workflow had already started.',
    labels: { result: ENTRY_RESULTS },
    perTenant: false,
    role: 'consumer',
  },
  entriesTrimmed: {
    name: 'wss_consumer_entries_trimmed_total',
    kind: 'counter',
    help: 'Pending stream entries found deleted from the stream (XTRIM, MAXLEN, XDEL) before their delivery started: events lost to the service. Size MAXLEN above the largest backlog.',
    labels: {},
    perTenant: false,
    role: 'consumer',
  },
  streamLag: {
    name: 'wss_consumer_stream_lag',
    kind: 'gauge',
    help: 'Entries in the event stream not yet read by the consumer group (XINFO GROUPS `lag`), sampled on a timer.',
    labels: {},
    perTenant: false,
    role: 'consumer, api',
  },
  pending: {
    name: 'wss_consumer_pending',
    kind: 'gauge',
    help: 'Entries read by the consumer group but not acknowledged yet (XINFO GROUPS `pending`), sampled on a timer.',
    labels: {},
    perTenant: false,
    role: 'consumer, api',
  },
  deadLetterLength: {
    name: 'wss_dead_letter_stream_length',
    kind: 'gauge',
    help: 'Entries in the dead-letter stream of rejected stream entries (XLEN), sampled on a timer.',
    labels: {},
    perTenant: false,
    role: 'consumer, api',
  },
  endpointsDisabled: {
    name: 'wss_endpoints_disabled_total',
    kind: 'counter',
    help: 'Endpoints the service disabled: gone (the receiver answered 410) or failing (the health policy).',
    labels: { reason: DISABLE_REASONS },
    perTenant: true,
    role: 'worker',
  },
  // --- Flow control (issue 17) ---
  endpointThrottled: {
    name: 'wss_endpoint_throttled_total',
    kind: 'counter',
    help: "Attempts an endpoint's flow control held back, by reason (paused, in_flight, rate): not attempts, each waits on a Temporal timer and runs again.",
    labels: { reason: THROTTLE_REASONS },
    perTenant: true,
    role: 'worker',
  },
  endpointEffectiveRate: {
    name: 'wss_endpoint_effective_rate',
    kind: 'gauge',
    help: 'The rate an endpoint with a rateLimit gets now, deliveries/s: the limit, or less while AIMD has cut it. Set after each of its requests this worker sent; one series per such endpoint.',
    labels: { tenant: [], endpoint: [] },
    perTenant: false,
    role: 'worker',
  },
  endpointPausedUntil: {
    name: 'wss_endpoint_paused_until_seconds',
    kind: 'gauge',
    help: "When an endpoint's Retry-After pause ends (Unix time), 0 when it is not paused. Set after each of its requests this worker sent.",
    labels: { tenant: [], endpoint: [] },
    perTenant: false,
    role: 'worker',
  },
  // --- end flow control ---
} as const satisfies Record<string, MetricSpec>;

/** One finished delivery attempt as the activity reports it (its `onAttempt` hook). */
export interface AttemptObservation {
  readonly tenantId: string;
  readonly outcome: 'delivered' | 'retry' | 'failed' | 'skipped';
  /** ISO time of the event (from the stream entry). */
  readonly occurredAt?: string;
  /** Set on operator retries and replays: their latency is not the service's. */
  readonly redelivery?: boolean;
  /** Present when an HTTP request was sent (or tried): its status, or the transport reason, and its duration. */
  readonly sent?: { readonly statusCode?: number; readonly reason?: string; readonly durationMs: number };
}

/** The service's metrics: a registry and the recording functions the roles call. */
export interface ServiceMetrics {
  readonly registry: Registry;
  recordAttempt(observation: AttemptObservation, nowMs?: number): void;
  recordCancelled(tenantId: string, endpoints: number): void;
  recordEntry(result: EntryResult): void;
  recordEntriesTrimmed(count: number): void;
  recordEndpointDisabled(tenantId: string, reason: string): void;
  setStreamStats(stats: { lag?: number; pending?: number; deadLetterLength?: number }): void;
  /** Flow control (issue 17): an attempt held back, and an endpoint's state after a gated request. */
  recordThrottle(tenantId: string, reason: ThrottleReason): void;
  setEndpointFlowState(
    tenantId: string,
    endpointId: string,
    state: { effectiveRate?: number; pausedUntilMs?: number },
  ): void;
}

export interface MetricsOptions {
  /** WSS_METRICS_TENANT_LABEL. */
  readonly tenantLabel: boolean;
  /** Node's process metrics (CPU, memory, event-loop lag, GC). Default true. */
  readonly processMetrics?: boolean;
  /**
   * The roles this process runs: only their metrics are registered (a worker exports no stream gauges, the API no
   * delivery counters). Default: all roles. Recording a metric of another role is a no-op.
   */
  readonly roles?: readonly ProcessRole[];
}

/** Whether a metric is emitted by one of `roles`. */
export function metricOfRoles(spec: { readonly role: string }, roles: readonly ProcessRole[]): boolean {
  return spec.role.split(', ').some((role) => roles.includes(role as ProcessRole));
}

/**
 * Creates a registry with the metrics of {@link METRICS} that the process's roles emit, each at zero for its known
 * label values.
 */
export function createMetrics(options: MetricsOptions): ServiceMetrics {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const roles = options.roles ?? (['api', 'consumer', 'worker'] as const);
  // A metric of another role is still created (the recording functions stay simple) but joins no registry.
  const registers = (spec: MetricSpec): Registry[] => (metricOfRoles(spec, roles) ? [registry] : []);
  const labelNames = (spec: MetricSpec): string[] => [
    ...Object.keys(spec.labels),
    ...(spec.perTenant && options.tenantLabel ? ['tenant'] : []),
  ];
  const counter = (spec: MetricSpec) =>
    new Counter({ name: spec.name, help: spec.help, labelNames: labelNames(spec), registers: registers(spec) });
  const gauge = (spec: MetricSpec) =>
    new Gauge({ name: spec.name, help: spec.help, labelNames: labelNames(spec), registers: registers(spec) });
  const histogram = (spec: MetricSpec & { buckets: readonly number[] }) =>
    new Histogram({
      name: spec.name,
      help: spec.help,
      labelNames: labelNames(spec),
      buckets: [...spec.buckets],
      registers: registers(spec),
    });

  const deliveries = counter(METRICS.deliveries);
  const attempts = counter(METRICS.attempts);
  const attemptDuration = histogram(METRICS.attemptDuration);
  const latency = histogram(METRICS.latency);
  const entries = counter(METRICS.entries);
  const entriesTrimmed = counter(METRICS.entriesTrimmed);
  const streamLag = gauge(METRICS.streamLag);
  const pending = gauge(METRICS.pending);
  const deadLetterLength = gauge(METRICS.deadLetterLength);
  const endpointsDisabled = counter(METRICS.endpointsDisabled);
  const endpointThrottled = counter(METRICS.endpointThrottled);
  const endpointEffectiveRate = gauge(METRICS.endpointEffectiveRate);
  const endpointPausedUntil = gauge(METRICS.endpointPausedUntil);

  // Series that exist from the start: a rate() or an increase() over a counter that appears with its first
  // increment misses that increment. Per-tenant series cannot be known in advance.
  if (!options.tenantLabel) {
    for (const outcome of DELIVERY_OUTCOMES) deliveries.inc({ outcome }, 0);
    for (const result of ATTEMPT_RESULTS) {
      for (const status_class of STATUS_CLASSES) attempts.inc({ result, status_class }, 0);
    }
    for (const reason of DISABLE_REASONS) endpointsDisabled.inc({ reason }, 0);
    for (const reason of THROTTLE_REASONS) endpointThrottled.inc({ reason }, 0);
  }
  for (const result of ENTRY_RESULTS) entries.inc({ result }, 0);

  const tenant = (tenantId: string): { tenant?: string } => (options.tenantLabel ? { tenant: tenantId } : {});

  return {
    registry,
    recordAttempt(o, nowMs = Date.now()) {
      const t = tenant(o.tenantId);
      if (o.sent) {
        attempts.inc({ ...t, result: attemptResult(o.outcome), status_class: statusClass(o.sent) });
        attemptDuration.observe(t, o.sent.durationMs / 1000);
      }
      if (o.outcome === 'retry') return;
      deliveries.inc({ ...t, outcome: o.outcome });
      if (o.outcome === 'delivered' && !o.redelivery && o.occurredAt !== undefined) {
        const since = Date.parse(o.occurredAt);
        if (Number.isFinite(since)) latency.observe(t, Math.max(0, nowMs - since) / 1000);
      }
    },
    recordCancelled(tenantId, count) {
      if (count > 0) deliveries.inc({ ...tenant(tenantId), outcome: 'cancelled' }, count);
    },
    recordEntry(result) {
      entries.inc({ result });
    },
    recordEntriesTrimmed(count) {
      if (count > 0) entriesTrimmed.inc(count);
    },
    recordEndpointDisabled(tenantId, reason) {
      endpointsDisabled.inc({ ...tenant(tenantId), reason });
    },
    recordThrottle(tenantId, reason) {
      endpointThrottled.inc({ ...tenant(tenantId), reason });
    },
    setEndpointFlowState(tenantId, endpointId, state) {
      const labels = { tenant: tenantId, endpoint: endpointId };
      if (state.effectiveRate !== undefined) endpointEffectiveRate.set(labels, state.effectiveRate);
      endpointPausedUntil.set(labels, state.pausedUntilMs !== undefined ? state.pausedUntilMs / 1000 : 0);
    },
    setStreamStats(stats) {
      if (stats.lag !== undefined) streamLag.set(stats.lag);
      if (stats.pending !== undefined) pending.set(stats.pending);
      if (stats.deadLetterLength !== undefined) deadLetterLength.set(stats.deadLetterLength);
    },
  };
}

/** What an attempt led to: the activity's `delivered`, `retry` or `failed` (no further attempt). */
function attemptResult(outcome: AttemptObservation['outcome']): AttemptResult {
  switch (outcome) {
    case 'delivered':
      return 'success';
    case 'retry':
      return 'retry';
    case 'failed':
    case 'skipped':
      return 'permanent';
    default: {
      const unreachable: never = outcome;
      throw new Error(`unknown attempt outcome ${String(unreachable)}`);
    }
  }
}

/** `2xx` … `5xx` for an answer; `timeout` or `network` for a transport error (or a status outside 200–599). */
export function statusClass(sent: { statusCode?: number; reason?: string }): StatusClass {
  const code = sent.statusCode;
  if (code !== undefined && code >= 200 && code < 600) return `${Math.floor(code / 100)}xx` as StatusClass;
  return sent.reason === 'timeout' ? 'timeout' : 'network';
}

/** The README's metric table (`npm run docs`). */
export function metricTable(): string {
  const rows = Object.values(METRICS as Record<string, MetricSpec>).map((spec) => {
    const labels = Object.entries(spec.labels).map(([name, values]) =>
      values.length === 0 ? `\`${name}\`` : `\`${name}\` (${values.map((v) => `\`${v}\``).join(', ')})`,
    );
    if (spec.perTenant) labels.push('`tenant` (opt-in)');
    return `| \`${spec.name}\` | ${spec.kind} | ${spec.role} | ${labels.join('; ') || '—'} | ${spec.help} |`;
  });
  return ['| Metric | Type | Role | Labels | Meaning |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}
