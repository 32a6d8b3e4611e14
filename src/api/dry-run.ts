import { randomBytes } from 'node:crypto';
import type { RequestBuilder } from '../activities/request-builder';
import { lowercaseKeys, toEventText } from '../activities/request-builder';
import type { Endpoint } from '../domain/endpoint';
import type { EventEnvelope } from '../domain/event';
import { ValidationError } from '../domain/errors';
import { matchesEventType } from '../domain/event-type';
import { compileFilter } from '../domain/filter';
import { buildSignatureHeaders } from '../security/signature';
import type { EventText } from '../transform/transform';

export type DryRunResult =
  | { readonly matches: false; readonly reason: 'endpoint_disabled' | 'event_type' | 'filter' }
  | {
      readonly matches: true;
      readonly eventType: string;
      readonly headers: Record<string, string>;
      /** The exact body bytes that would be sent (as text). */
      readonly body: string;
    };

/**
 * What a delivery of `event` to `endpoint` would look like: routing decision, transformed body and every header
 * including the signature, computed by the same code the delivery activity uses (the same request builder, and
 * the same isolated transform pool). Nothing is sent.
 *
 * Pass the sample's data as its JSON text ({@link EventText}) to see byte for byte what a delivery of that text
 * sends; an {@link EventEnvelope} with parsed `data` still works, its data serialised once with `JSON.stringify`.
 */
export async function dryRunDelivery(
  endpoint: Endpoint,
  event: EventText | EventEnvelope,
  deps: {
    requests: Pick<RequestBuilder, 'buildFromEnvelope'>;
    loadSecrets: () => Promise<string[]>;
    now?: () => number;
  },
): Promise<DryRunResult> {
  const text = toEventText(event);
  if (!endpoint.enabled) return { matches: false, reason: 'endpoint_disabled' };
  if (!matchesEventType(endpoint.eventTypes, text.type)) return { matches: false, reason: 'event_type' };
  if (endpoint.filter !== undefined && !compileFilter(endpoint.filter).matches(filterInput(event, text)))
    return { matches: false, reason: 'filter' };
  const request = await deps.requests.buildFromEnvelope(text, endpoint);
  const timestamp = Math.floor((deps.now ?? Date.now)() / 1000);
  const signature = buildSignatureHeaders({
    scheme: endpoint.signatureScheme,
    secrets: await deps.loadSecrets(),
    eventId: text.id,
    timestamp,
    body: request.body,
  });
  return {
    matches: true,
    eventType: request.eventType,
    headers: { ...request.headers, ...lowercaseKeys(signature) },
    body: request.body,
  };
}

/** Filters see parsed data, as the workflow's routing does. */
function filterInput(event: EventText | EventEnvelope, text: EventText): EventEnvelope {
  if (!('dataJson' in event)) return event;
  let data: unknown;
  try {
    data = JSON.parse(text.dataJson);
  } catch {
    throw new ValidationError('data: is not valid JSON', 'data');
  }
  return { id: text.id, type: text.type, tenant: text.tenant, occurredAt: text.occurredAt, data };
}

export function dryRunEventId(): string {
  return `evt_dryrun_${randomBytes(8).toString('hex')}`;
}
