import type { Endpoint, SignatureScheme, SignatureVersion } from '../domain/endpoint';
import { WssError } from '../domain/errors';
import { checkHeaderTotals, checkStaticHeaders } from '../domain/http-headers';
import type { EventEnvelope, EventRef, EventText } from '../domain/event';
import type { EventId, TenantId } from '../domain/ids';
import type { TraceHeaders } from '../domain/trace-context';
import type { AsymmetricSigningKey } from '../security/ed25519';
import { buildSignatureHeaders } from '../security/signature';

/**
 * The one way the service builds and signs an outgoing request: a delivery attempt, the API's dry run and the
 * operator webhook all come through here, so a dry run shows byte for byte the body and headers a delivery sends
 * (only the timestamp, and the signatures over it, differ with the moment of signing).
 *
 * Header names are sent in lower case, all of them: one spelling, so a name can never be sent twice in two cases,
 * and what the dry run shows is what goes on the wire. Receivers compare header names case-insensitively, as HTTP
 * requires.
 */

export const USER_AGENT = 'wss-webhooks/0.1 (+https://github.com/wss/webhook-sender-service)';

/** A request before signing: the exact body bytes and every header but the signature's. */
export interface UnsignedRequest {
  /**
   * The message id: for a delivery the event id, identical on every retry and replay. Sent as `x-wss-event-id`,
   * and as `webhook-id` by the Standard Webhooks scheme, so receivers can deduplicate.
   */
  readonly id: string;
  readonly body: string;
  /** Lower-case names, in the order sent. */
  readonly headers: Readonly<Record<string, string>>;
  /** The event type sent, after any transform override. */
  readonly eventType: string;
}

/** A request exactly as sent: the body and every header, signature included, names and order as on the wire. */
export type SignedRequest = UnsignedRequest;

/** How to sign: the scheme, the active secrets (newest first) and the moment of signing. */
export interface RequestSigning {
  readonly scheme: SignatureScheme;
  readonly secrets: readonly string[];
  /** Unix seconds, taken when the request is sent (see {@link unixSeconds}). */
  readonly timestamp: number;
  /** The endpoint's `signatureVersions`; default `["v1"]`. */
  readonly versions?: readonly SignatureVersion[];
  /** The tenant's active ed25519 keys, newest first, for `v1a`. */
  readonly signingKeys?: readonly AsymmetricSigningKey[];
}

/** The stored payload of an event expired or was never written. Retrying cannot bring it back. */
export class PayloadUnavailableError extends WssError {
  readonly code = 'payload_unavailable';
}

/** The stored payload is not one JSON value, so it cannot be placed in the envelope. Retrying cannot fix it. */
export class PayloadInvalidError extends WssError {
  readonly code = 'payload_invalid';
}

/**
 * The endpoint as stored cannot make a request that may be sent: a static header the registration rule refuses
 * (stored before the rule applied, or written to Redis by hand), or its static and its transform's headers
 * together over the limits. Nothing is sent; every attempt would fail the same way until the endpoint is changed.
 * The message names the header, never its value.
 */
export class InvalidRequestError extends WssError {
  readonly code = 'invalid_request';
}

export interface RequestBuilderDependencies {
  readonly payloads: { get(tenantId: TenantId, eventId: EventId): Promise<string | undefined> };
  /**
   * Applies an endpoint's transform to the event (the data as its stored JSON text). Absent when transforms are
   * not configured; an endpoint without a transform gets the default body.
   */
  readonly transform?: (
    endpoint: Endpoint,
    event: EventText,
  ) => Promise<{ body: string; headers: Record<string, string>; eventType?: string } | undefined>;
  /**
   * The W3C trace context of the delivery attempt being built (its span's), for endpoints with
   * `sendTraceparent`. Absent, or returning undefined, when tracing is off: nothing is sent then.
   */
  readonly traceHeaders?: () => TraceHeaders | undefined;
}

/**
 * Turns an event and an endpoint into the unsigned request: body and headers. Used by the delivery activity (from
 * the stored payload) and by the API's dry run (from the sample), so what a dry run shows is what a delivery sends.
 *
 * The default body is `{"id":…,"type":…,"occurredAt":…,"data":<data>}` where `<data>` is the producer's JSON text
 * exactly as stored, spliced in, never parsed and re-serialised: digits beyond a double's precision, `1.0`, `-0`,
 * escapes, whitespace, key order and duplicate keys all reach the receiver as published.
 */
export class RequestBuilder {
  constructor(private readonly deps: RequestBuilderDependencies) {}

  /** Builds from the event's stored payload. */
  async build(event: EventRef, endpoint: Endpoint): Promise<UnsignedRequest> {
    const dataJson = await this.deps.payloads.get(event.tenantId, event.eventId);
    if (dataJson === undefined) {
      throw new PayloadUnavailableError(`payload of event ${event.eventId} is no longer stored`);
    }
    const trace = endpoint.sendTraceparent === true ? this.deps.traceHeaders?.() : undefined;
    return this.buildFromEnvelope(
      { id: event.eventId, type: event.eventType, tenant: event.tenantId, occurredAt: event.occurredAt, dataJson },
      endpoint,
      trace,
    );
  }

  /**
   * Builds from an event whose data is its JSON text ({@link EventText}, byte for byte) or, for callers that only
   * hold a parsed value, an {@link EventEnvelope} (its `data` is serialised with `JSON.stringify`, so it carries
   * whatever the earlier parse kept).
   *
   * `trace` is sent as `traceparent` (and `tracestate`) after the tenant's headers; only a delivery attempt of an
   * endpoint with `sendTraceparent` has one ({@link build}). A dry run has no attempt span, so it shows none.
   */
  async buildFromEnvelope(
    event: EventText | EventEnvelope,
    endpoint: Endpoint,
    trace?: TraceHeaders,
  ): Promise<UnsignedRequest> {
    const text = toEventText(event);
    const own = checkedStaticHeaders(endpoint);
    const transformed = endpoint.transform !== undefined ? await this.deps.transform?.(endpoint, text) : undefined;
    const eventType = transformed?.eventType ?? text.type;
    const tenantHeaders = { ...own, ...lowercaseKeys(transformed?.headers) };
    // Each set was checked alone (static here, the transform's where it ran); sent together they must fit too.
    const totals = checkHeaderTotals(tenantHeaders);
    if (totals !== undefined) {
      throw new InvalidRequestError(`the endpoint's static headers and its transform's headers together: ${totals}`);
    }
    return {
      id: text.id,
      body: transformed?.body ?? defaultBody(text),
      eventType,
      headers: { ...messageHeaders(text.id, eventType, tenantHeaders), ...traceHeaderFields(trace) },
    };
  }
}

/** The W3C headers of a delivery attempt, lower case like every header sent; none without a trace. */
function traceHeaderFields(trace: TraceHeaders | undefined): Record<string, string> {
  if (trace === undefined) return {};
  return {
    traceparent: trace.traceparent,
    ...(trace.tracestate !== undefined ? { tracestate: trace.tracestate } : {}),
  };
}

/**
 * A message that is not an endpoint's delivery (an operator notification), with the header set a delivery has:
 * the body is sent as given.
 */
export function buildMessage(message: {
  readonly id: string;
  readonly type: string;
  readonly body: string;
}): UnsignedRequest {
  return {
    id: message.id,
    body: message.body,
    eventType: message.type,
    headers: messageHeaders(message.id, message.type, {}),
  };
}

/**
 * Adds the signature headers of `signing.scheme` (see `buildSignatureHeaders`) over exactly `request.body`, after
 * every other header. Pure: the clock is `signing.timestamp`, so a retry hours later re-signs with its own time.
 *
 * @throws as `buildSignatureHeaders` when a secret does not suit the scheme; nothing is signed then.
 */
export function signRequest(request: UnsignedRequest, signing: RequestSigning): SignedRequest {
  const signature = buildSignatureHeaders({
    scheme: signing.scheme,
    secrets: signing.secrets,
    eventId: request.id,
    timestamp: signing.timestamp,
    body: request.body,
    ...(signing.versions !== undefined ? { versions: signing.versions } : {}),
    ...(signing.signingKeys !== undefined ? { signingKeys: signing.signingKeys } : {}),
  });
  return { ...request, headers: { ...request.headers, ...lowercaseKeys(signature) } };
}

/** Unix seconds of a millisecond clock reading, as signatures carry them. */
export function unixSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** The event with its data as JSON text; an envelope's parsed data is serialised once. */
export function toEventText(event: EventText | EventEnvelope): EventText {
  if ('dataJson' in event) return event;
  const dataJson = JSON.stringify(event.data) as string | undefined;
  if (dataJson === undefined) throw new PayloadInvalidError(`data of event ${event.id} is not a JSON value`);
  return { id: event.id, type: event.type, tenant: event.tenant, occurredAt: event.occurredAt, dataJson };
}

/** The service's own headers come after the tenant's, so no endpoint or transform header can replace them. */
function messageHeaders(id: string, eventType: string, own: Record<string, string>): Record<string, string> {
  return {
    ...own,
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'x-wss-event-id': id,
    'x-wss-event-type': eventType,
  };
}

/**
 * The default envelope with the data text spliced in. The text was checked as JSON when the event was accepted;
 * it is checked again because a splice of anything else could forge envelope fields inside a signed body.
 */
function defaultBody(event: EventText): string {
  try {
    JSON.parse(event.dataJson);
  } catch {
    // The parser's message quotes the text; it must not reach logs or history.
    throw new PayloadInvalidError(`payload of event ${event.id} is not valid JSON`);
  }
  return `{"id":${JSON.stringify(event.id)},"type":${JSON.stringify(event.type)},"occurredAt":${JSON.stringify(event.occurredAt)},"data":${event.dataJson}}`;
}

/**
 * The endpoint's static headers, lower-cased, after the registration rule (`checkStaticHeaders`): an endpoint
 * stored before the rule existed must not send `Host`, `Connection` or a forged `x-wss-signature` as stored, nor
 * fail in the HTTP client on `Content-Length` and be retried for days.
 */
function checkedStaticHeaders(endpoint: Endpoint): Record<string, string> {
  const problem = checkStaticHeaders(endpoint.headers ?? {})[0];
  if (problem !== undefined) {
    throw new InvalidRequestError(
      `endpoint ${endpoint.id}: static headers: ${problem.message}; change them with PATCH`,
    );
  }
  return lowercaseKeys(endpoint.headers);
}

/** Header names are case-insensitive; one spelling avoids sending `X-Team` and `x-team` as two headers. */
function lowercaseKeys(headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) out[name.toLowerCase()] = value;
  return out;
}
