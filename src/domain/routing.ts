import type { Endpoint } from './endpoint';
import type { EventEnvelope } from './event';
import { matchesEventType } from './event-type';

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
  return endpoints.filter((endpoint) => {
    if (!endpoint.enabled || !matchesEventType(endpoint.eventTypes, envelope.type)) return false;
    const matcher = matcherFor(endpoint);
    return matcher === undefined || matcher.matches(envelope);
  });
}
