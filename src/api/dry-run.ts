import { randomBytes } from 'node:crypto';
import type { RequestBuilder } from '../delivery/signed-request';
import { signRequest, toEventText, unixSeconds } from '../delivery/signed-request';
import type { Endpoint } from '../domain/endpoint';
import { DEFAULT_SIGNATURE_VERSIONS } from '../domain/endpoint';
import type { AsymmetricSigningKey } from '../security/ed25519';
import { redactedAuthHeaders, withAuthHeaders } from '../domain/endpoint-auth';
import type { EventEnvelope, EventText } from '../domain/event';
import { ValidationError } from '../domain/errors';
import type { RoutingMiss } from '../domain/routing';
import { ContentMatcherCache, findRoutingMiss } from '../domain/routing';
import type { OrderingSpec } from '../domain/ordering';
import { orderingKeyHash, orderingKeyOf } from '../domain/ordering';

export type DryRunResult =
  | { readonly matches: false; readonly reason: RoutingMiss }
  | {
      readonly matches: true;
      readonly eventType: string;
      /** Every header a delivery sends, names and order as sent (the HTTP client adds only host and framing). */
      readonly headers: Record<string, string>;
      /** The exact body bytes that would be sent (as text). */
      readonly body: string;
      /** For an endpoint with ordering: the key (and lane) the event would get, or why it gets none. */
      readonly ordering?: DryRunOrdering;
    };

/** The ordering key an event would get: with its hash (its lane), or null and why (it is then delivered unordered). */
export type DryRunOrdering =
  { readonly key: string; readonly keyHash: string } | { readonly key: null; readonly reason: string };

/**
 * What a delivery of `event` to `endpoint` would look like: the routing decision, the transformed body and every
 * header including the signature, through the same code the delivery activity runs (`findRoutingMiss`, the
 * request builder with the same isolated transform pool, and `signRequest`). Nothing is sent. Signed at `now`:
 * at the same clock reading a delivery sends exactly these headers.
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
    /** The tenant's active ed25519 keys, loaded only for an endpoint that signs with `v1a`. */
    loadSigningKeys?: () => Promise<AsymmetricSigningKey[]>;
    /** The clock the signature's timestamp is read from. Default: `Date.now`. */
    now?: () => number;
    /** The sample's `orderingKey` stream field, for an endpoint ordered by it. */
    orderingKey?: string;
  },
): Promise<DryRunResult> {
  const text = toEventText(event);
  // A stored filter that no longer compiles matches nothing, as in routing and in the activity.
  const matchers = new ContentMatcherCache(() => undefined);
  const miss = await findRoutingMiss(
    endpoint,
    text.type,
    (e) => matchers.matcherFor(e),
    () => filterInput(event, text),
  );
  if (miss !== undefined) return { matches: false, reason: miss };
  const unsigned = await deps.requests.buildFromEnvelope(text, endpoint);
  const versions = endpoint.signatureVersions ?? DEFAULT_SIGNATURE_VERSIONS;
  const signingKeys = versions.includes('v1a') ? await deps.loadSigningKeys?.() : undefined;
  const signed = signRequest(unsigned, {
    scheme: endpoint.signatureScheme,
    secrets: await deps.loadSecrets(),
    timestamp: unixSeconds((deps.now ?? Date.now)()),
    versions,
    ...(signingKeys !== undefined ? { signingKeys } : {}),
  });
  // The endpoint's Authorization goes last, as the HTTP client sets it on the wire; its secret is not shown.
  const headers = withAuthHeaders(withoutAsymmetricSignatures(signed.headers), redactedAuthHeaders(endpoint.auth));
  const ordering = endpoint.ordering
    ? dryRunOrdering(endpoint.ordering, filterInput(event, text), deps.orderingKey)
    : undefined;
  return {
    matches: true,
    eventType: signed.eventType,
    headers,
    body: signed.body,
    ...(ordering ? { ordering } : {}),
  };
}

/**
 * What a dry run shows in place of each `v1a` signature (Standard Webhooks asymmetric): a real one, over a body the
 * caller chose, would verify against the tenant's public JWKS, so anyone allowed to dry-run could forge deliveries.
 * The entry's position, the timestamp and the kid header are shown as a delivery sends them.
 */
export const DRY_RUN_V1A_SIGNATURE = 'v1a,[not-signed-in-a-dry-run]';

/** `headers` with each `v1a` entry of `webhook-signature` replaced by {@link DRY_RUN_V1A_SIGNATURE}. */
function withoutAsymmetricSignatures(headers: Readonly<Record<string, string>>): Record<string, string> {
  const shown: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    shown[name] =
      name.toLowerCase() === 'webhook-signature'
        ? value
            .split(' ')
            .map((entry) => (entry.startsWith('v1a,') ? DRY_RUN_V1A_SIGNATURE : entry))
            .join(' ')
        : value;
  }
  return shown;
}

/** The consumer's decision (`orderingKeyOf`), shown. */
function dryRunOrdering(spec: OrderingSpec, envelope: EventEnvelope, streamKey: string | undefined): DryRunOrdering {
  const result = orderingKeyOf(spec, envelope, streamKey);
  return result.key === undefined
    ? { key: null, reason: `${result.reason}; it would be delivered without ordering` }
    : { key: result.key, keyHash: orderingKeyHash(result.key) };
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
