import type { EndpointId, TenantId } from './ids';

/** How an endpoint's requests are signed. */
export type SignatureScheme = 'wss' | 'standard-webhooks' | 'both';

/** Per-endpoint retry policy. Every field is optional; missing ones fall back to the tenant and service defaults. */
export interface RetryPolicySpec {
  /** Delay before the first retry, in ms. */
  readonly initialIntervalMs?: number;
  readonly backoffCoefficient?: number;
  /** Longest delay between attempts, in ms. */
  readonly maximumIntervalMs?: number;
  /** Attempts including the first. */
  readonly maximumAttempts?: number;
  /** Total time from the first attempt after which no retry starts, in ms. */
  readonly retryWindowMs?: number;
  /** Random spread applied to each delay, in percent (±). */
  readonly jitterPercent?: number;
  /** Status codes treated as permanent failures besides 410. */
  readonly permanentStatusCodes?: readonly number[];
}

/** An endpoint as stored and as the API shows it. The signing secret is never part of this type. */
export interface Endpoint {
  readonly id: EndpointId;
  readonly tenantId: TenantId;
  readonly url: string;
  readonly description?: string;
  /** Exact event types and `prefix.*` wildcards; `*` matches everything. */
  readonly eventTypes: readonly string[];
  readonly enabled: boolean;
  /** Static headers added to every request. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly metadata?: Readonly<Record<string, string>>;
  // --- Flow control (issue 17: rate, in flight, AIMD); see domain/flow-control.ts ---
  /** Deliveries per second, shared by every worker. */
  readonly rateLimit?: number;
  /** Requests the rate limit lets go at once after a quiet spell. Default 1: evenly paced. */
  readonly rateLimitBurst?: number;
  /** Requests in flight at once, across every worker. */
  readonly maxInFlight?: number;
  /**
   * AIMD on 429, 503 and timeouts, and an endpoint-wide pause on `Retry-After`, for an endpoint with a
   * `rateLimit` or `maxInFlight`. Default true; false turns both off.
   */
  readonly adaptiveBackoff?: boolean;
  // --- end flow control ---
  readonly retryPolicy?: RetryPolicySpec;
  /** Mongo-style content filter over the envelope. */
  readonly filter?: unknown;
  /** JSONata expression producing the body (or `{body, headers, eventType}`). */
  readonly transform?: string;
  readonly signatureScheme: SignatureScheme;
  /**
   * Send the delivery attempt's W3C `traceparent` (and `tracestate`) to the receiver, when tracing is on. Off by
   * default: a trace id is internal information. (Endpoints stored before the field existed read as off.)
   */
  readonly sendTraceparent: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Why the endpoint was disabled, when the service did it (e.g. `gone`, `failing`). */
  readonly disabledReason?: string;
}
