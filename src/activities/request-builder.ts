import type { Endpoint } from '../domain/endpoint';
import { WssError } from '../domain/errors';
import type { EventEnvelope, EventRef } from '../domain/event';

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
  override readonly permanent = true;
}

export interface RequestBuilderDependencies {
  readonly payloads: { get(tenantId: string, eventId: string): Promise<string | undefined> };
  /**
   * Applies an endpoint's transform to the envelope. Absent when transforms are not configured; an endpoint
   * without a transform gets the default body.
   */
  readonly transform?: (
    endpoint: Endpoint,
    envelope: EventEnvelope,
  ) => Promise<{ body: string; headers: Record<string, string>; eventType?: string } | undefined>;
}

/**
 * Turns an event reference and an endpoint into the request body and headers. Used by the delivery activity and
 * by the API's dry run, so what a dry run shows is what a delivery sends.
 */
export class RequestBuilder {
  constructor(private readonly deps: RequestBuilderDependencies) {}

  async build(event: EventRef, endpoint: Endpoint): Promise<BuiltRequest> {
    const dataJson = await this.deps.payloads.get(event.tenantId, event.eventId);
    if (dataJson === undefined) {
      throw new PayloadUnavailableError(`payload of event ${event.eventId} is no longer stored`);
    }
    const envelope: EventEnvelope = {
      id: event.eventId,
      type: event.eventType,
      tenant: event.tenantId,
      occurredAt: event.occurredAt,
      data: JSON.parse(dataJson) as unknown,
    };
    return this.buildFromEnvelope(envelope, endpoint);
  }

  async buildFromEnvelope(envelope: EventEnvelope, endpoint: Endpoint): Promise<BuiltRequest> {
    const transformed = endpoint.transform !== undefined ? await this.deps.transform?.(endpoint, envelope) : undefined;
    const eventType = transformed?.eventType ?? envelope.type;
    const body =
      transformed?.body ??
      JSON.stringify({ id: envelope.id, type: envelope.type, occurredAt: envelope.occurredAt, data: envelope.data });
    return {
      body,
      eventType,
      headers: {
        ...lowercaseKeys(endpoint.headers),
        ...lowercaseKeys(transformed?.headers),
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'x-wss-event-id': envelope.id,
        'x-wss-event-type': eventType,
      },
    };
  }
}

/** Header names are case-insensitive; one spelling avoids sending `X-Team` and `x-team` as two headers. */
export function lowercaseKeys(headers: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) out[name.toLowerCase()] = value;
  return out;
}
