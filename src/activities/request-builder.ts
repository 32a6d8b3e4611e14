import type { Endpoint } from '../domain/endpoint';
import { WssError } from '../domain/errors';
import type { EventEnvelope, EventRef } from '../domain/event';
import type { EventText } from '../transform/transform';

export const USER_AGENT = 'wss-webhooks/0.1 (+https://github.com/wss/webhook-sender-service)';

/** The unsigned request for one endpoint: exact body bytes and the headers other than the signature. */
export interface BuiltRequest {
  readonly body: string;
  readonly headers: Record<string, string>;
  /** The event type sent, after any transform override. */
  readonly eventType: string;
}

/** The stored payload of an event expired or was never written. Retrying cannot bring it back. */
export class PayloadUnavailableError extends WssError {
  readonly code = 'payload_unavailable';
}

/** The stored payload is not one JSON value, so it cannot be placed in the envelope. Retrying cannot fix it. */
export class PayloadInvalidError extends WssError {
  readonly code = 'payload_invalid';
}

export interface RequestBuilderDependencies {
  readonly payloads: { get(tenantId: string, eventId: string): Promise<string | undefined> };
  /**
   * Applies an endpoint's transform to the event (the data as its stored JSON text). Absent when transforms are
   * not configured; an endpoint without a transform gets the default body.
   */
  readonly transform?: (
    endpoint: Endpoint,
    event: EventText,
  ) => Promise<{ body: string; headers: Record<string, string>; eventType?: string } | undefined>;
}

/**
 * Turns an event and an endpoint into the request body and headers. Used by the delivery activity and by the
 * API's dry run, so what a dry run shows is what a delivery sends.
 *
 * The default body is `{"id":…,"type":…,"occurredAt":…,"data":<data>}` where `<data>` is the producer's JSON text
 * exactly as stored, spliced in, never parsed and re-serialised: digits beyond a double's precision, `1.0`, `-0`,
 * escapes, whitespace, key order and duplicate keys all reach the receiver as published.
 */
export class RequestBuilder {
  constructor(private readonly deps: RequestBuilderDependencies) {}

  async build(event: EventRef, endpoint: Endpoint): Promise<BuiltRequest> {
    const dataJson = await this.deps.payloads.get(event.tenantId, event.eventId);
    if (dataJson === undefined) {
      throw new PayloadUnavailableError(`payload of event ${event.eventId} is no longer stored`);
    }
    return this.buildFromEnvelope(
      { id: event.eventId, type: event.eventType, tenant: event.tenantId, occurredAt: event.occurredAt, dataJson },
      endpoint,
    );
  }

  /**
   * Builds from an event whose data is its JSON text ({@link EventText}, byte for byte) or, for callers that only
   * hold a parsed value, an {@link EventEnvelope} (its `data` is serialised with `JSON.stringify`, so it carries
   * whatever the earlier parse kept).
   */
  async buildFromEnvelope(event: EventText | EventEnvelope, endpoint: Endpoint): Promise<BuiltRequest> {
    const text = toEventText(event);
    const transformed = endpoint.transform !== undefined ? await this.deps.transform?.(endpoint, text) : undefined;
    const eventType = transformed?.eventType ?? text.type;
    const body = transformed?.body ?? defaultBody(text);
    return {
      body,
      eventType,
      headers: {
        ...lowercaseKeys(endpoint.headers),
        ...lowercaseKeys(transformed?.headers),
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'x-wss-event-id': text.id,
        'x-wss-event-type': eventType,
      },
    };
  }
}

/** The event with its data as JSON text; an envelope's parsed data is serialised once. */
export function toEventText(event: EventText | EventEnvelope): EventText {
  if ('dataJson' in event) return event;
  const dataJson = JSON.stringify(event.data) as string | undefined;
  if (dataJson === undefined) throw new PayloadInvalidError(`data of event ${event.id} is not a JSON value`);
  return { id: event.id, type: event.type, tenant: event.tenant, occurredAt: event.occurredAt, dataJson };
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

/** Header names are case-insensitive; one spelling avoids sending `X-Team` and `x-team` as two headers. */
export function lowercaseKeys(headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) out[name.toLowerCase()] = value;
  return out;
}
