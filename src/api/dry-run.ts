import { randomBytes } from 'node:crypto';
import type { RequestBuilder } from '../activities/request-builder';
import { lowercaseKeys } from '../activities/request-builder';
import type { Endpoint } from '../domain/endpoint';
import type { EventEnvelope } from '../domain/event';
import { matchesEventType } from '../domain/event-type';
import { compileFilter } from '../domain/filter';
import { buildSignatureHeaders } from '../security/signature';

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
 * What a delivery of `envelope` to `endpoint` would look like: routing decision, transformed body and every
 * header including the signature, computed by the same code the delivery activity uses. Nothing is sent.
 */
export async function dryRunDelivery(
  endpoint: Endpoint,
  envelope: EventEnvelope,
  deps: {
    requests: Pick<RequestBuilder, 'buildFromEnvelope'>;
    loadSecrets: () => Promise<string[]>;
    now?: () => number;
  },
): Promise<DryRunResult> {
  if (!endpoint.enabled) return { matches: false, reason: 'endpoint_disabled' };
  if (!matchesEventType(endpoint.eventTypes, envelope.type)) return { matches: false, reason: 'event_type' };
  if (endpoint.filter !== undefined && !compileFilter(endpoint.filter).matches(envelope))
    return { matches: false, reason: 'filter' };
  const request = await deps.requests.buildFromEnvelope(envelope, endpoint);
  const timestamp = Math.floor((deps.now ?? Date.now)() / 1000);
  const signature = buildSignatureHeaders({
    scheme: endpoint.signatureScheme,
    secrets: await deps.loadSecrets(),
    eventId: envelope.id,
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

export function dryRunEventId(): string {
  return `evt_dryrun_${randomBytes(8).toString('hex')}`;
}
