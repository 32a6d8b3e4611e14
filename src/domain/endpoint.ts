import type { EndpointAuthView } from './endpoint-auth';
import type { EndpointId, TenantId } from './ids';
import type { OrderingSpec } from './ordering';

/** How an endpoint's requests are signed. */
export type SignatureScheme = 'wss' | 'standard-webhooks' | 'both';

/**
 * Which signatures an endpoint's requests carry, named by their Standard Webhooks signature identifiers: `v1` is
 * the symmetric HMAC-SHA256 signature with the endpoint's secret (in the header sets of its
 * {@link SignatureScheme}), `v1a` the asymmetric ed25519 signature with its tenant's key pair.
 */
export type SignatureVersion = 'v1' | 'v1a';

/** What an endpoint stored before `signatureVersions` existed signs with. */
export const DEFAULT_SIGNATURE_VERSIONS: readonly SignatureVersion[] = ['v1'];

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
   * Which signatures are sent (`v1` entries before `v1a` ones); non-empty, no repeats. Absent means {@link DEFAULT_SIGNATURE_VERSIONS}
   * (`["v1"]`). With `v1a` and without `v1`, requests carry no HMAC signature at all (the endpoint's secret is
   * kept but unused).
   */
  readonly signatureVersions?: readonly SignatureVersion[];
  /**
   * Send the delivery attempt's W3C `traceparent` (and `tracestate`) to the receiver, when tracing is on. Off by
   * default: a trace id is internal information. (Endpoints stored before the field existed read as off.)
   */
  readonly sendTraceparent: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Why the endpoint was disabled, when the service did it (e.g. `gone`, `failing`). */
  readonly disabledReason?: string;
  /** How deliveries authenticate besides the signature; the view only, its secrets are sealed apart. */
  readonly auth?: EndpointAuthView;
  // --- ordered delivery (issue 17) ---
  /** Deliver events with the same key one at a time, in stream order (README "Ordered delivery"). */
  readonly ordering?: OrderingSpec;
}
