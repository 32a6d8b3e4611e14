import type { Endpoint } from './endpoint';
import type { EventEnvelope } from './event';
import { matchesEventType } from './event-type';
import { compileFilter } from './filter';

/** A content filter compiled once per endpoint version. */
export interface ContentMatcher {
  matches(envelope: EventEnvelope): boolean;
}

/**
 * Picks the endpoints that get an event: enabled, subscribed to its type, and (when set) passing its content
 * filter. Pure, and cheap enough to run for every event: it costs no Temporal activity.
 *
 * @param matcherFor returns the endpoint's compiled filter, or undefined when it has none.
 */
export function selectEndpoints(
  envelope: EventEnvelope,
  endpoints: readonly Endpoint[],
  matcherFor: (endpoint: Endpoint) => ContentMatcher | undefined,
): Endpoint[] {
  return endpoints.filter((endpoint) => endpoint.enabled && isSubscribed(endpoint, envelope, matcherFor));
}

/**
 * Whether the endpoint's subscription (event types, then content filter) covers the event, whatever its enabled
 * state. Routing asks it when the event is accepted and the delivery activity again before every attempt, so a
 * subscription changed during retries takes effect at the next attempt.
 *
 * @param matcherFor as for {@link selectEndpoints}; only called when the type matches.
 */
export function isSubscribed(
  endpoint: Endpoint,
  envelope: EventEnvelope,
  matcherFor: (endpoint: Endpoint) => ContentMatcher | undefined,
): boolean {
  if (!matchesEventType(endpoint.eventTypes, envelope.type)) return false;
  const matcher = matcherFor(endpoint);
  return matcher === undefined || matcher.matches(envelope);
}

/** Why an endpoint would not get an event now. */
export type RoutingMiss = 'endpoint_disabled' | 'event_type' | 'filter';

/**
 * The first reason the endpoint would not get the event now, or undefined when it would: its enabled state, then
 * {@link isSubscribed}'s event types and content filter. The delivery activity asks before every attempt and the
 * API's dry run once, so the two decide alike.
 *
 * @param envelope called only when a content filter needs the data; when it yields undefined (the data is no
 *   longer stored) the filter is passed, and building the request then reports the missing data.
 */
export async function findRoutingMiss(
  endpoint: Endpoint,
  eventType: string,
  matcherFor: (endpoint: Endpoint) => ContentMatcher | undefined,
  envelope: () => Promise<EventEnvelope | undefined> | EventEnvelope | undefined,
): Promise<RoutingMiss | undefined> {
  if (!endpoint.enabled) return 'endpoint_disabled';
  if (!matchesEventType(endpoint.eventTypes, eventType)) return 'event_type';
  const matcher = matcherFor(endpoint);
  if (matcher === undefined) return undefined;
  const data = await envelope();
  if (data === undefined) return undefined;
  return matcher.matches(data) ? undefined : 'filter';
}

/**
 * Compiled content filters, one per endpoint, recompiled when the endpoint's `updatedAt` changes. Holds at most
 * `maxEntries` endpoints and starts afresh beyond that. A stored filter that no longer compiles matches nothing:
 * that is visible (the endpoint gets nothing, and `onInvalid` is told), where guessing could leak events.
 */
export class ContentMatcherCache {
  private readonly matchers = new Map<string, { version: string; matcher: ContentMatcher }>();

  /**
   * @param onInvalid told once per endpoint version whose stored filter does not compile (log it).
   * @param maxEntries default 10,000.
   */
  constructor(
    private readonly onInvalid: (endpoint: Endpoint, err: Error) => void,
    private readonly maxEntries = 10_000,
  ) {}

  /** The endpoint's compiled filter, or undefined when it has none. */
  matcherFor(endpoint: Endpoint): ContentMatcher | undefined {
    if (endpoint.filter === undefined) return undefined;
    const key = `${endpoint.tenantId}/${endpoint.id}`;
    const cached = this.matchers.get(key);
    if (cached && cached.version === endpoint.updatedAt) return cached.matcher;
    let matcher: ContentMatcher;
    try {
      matcher = compileFilter(endpoint.filter);
    } catch (err) {
      this.onInvalid(endpoint, err instanceof Error ? err : new Error(String(err)));
      matcher = { matches: () => false };
    }
    if (this.matchers.size >= this.maxEntries) this.matchers.clear();
    this.matchers.set(key, { version: endpoint.updatedAt, matcher });
    return matcher;
  }
}
