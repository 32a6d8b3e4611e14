import type { Client } from '@temporalio/client';
import type { Endpoint, RetryPolicySpec } from '../domain/endpoint';
import type { EventEnvelope, EventRef } from '../domain/event';
import { compileFilter } from '../domain/filter';
import type { ResolvedRetryPolicy } from '../domain/retry-policy';
import { resolveRetryPolicy } from '../domain/retry-policy';
import type { ContentMatcher } from '../domain/routing';
import { selectEndpoints } from '../domain/routing';
import type { AcceptedEntry, EntryLimits } from '../domain/stream-entry';
import { parseStreamEntry } from '../domain/stream-entry';
import type { Logger } from '../infra/logger';
import type { DeliverEventInput } from '../workflows/deliver-event';
import { startDeliveryWorkflow } from './start-delivery';

/** What became of one stream entry. */
export type IngestResult =
  | { readonly kind: 'started'; readonly workflowId: string; readonly endpoints: number }
  | { readonly kind: 'duplicate'; readonly workflowId: string }
  | { readonly kind: 'dead_letter'; readonly reason: string };

export interface EventIngestorDependencies {
  readonly temporal: Client;
  readonly taskQueue: string;
  readonly limits: EntryLimits;
  readonly payloads: { put(tenantId: string, eventId: string, dataJson: string): Promise<void> };
  readonly endpoints: { listAll(tenantId: string): Promise<Endpoint[]> };
  readonly tenants: { getRetryPolicy(tenantId: string): Promise<RetryPolicySpec | undefined> };
  readonly serviceRetryPolicy: ResolvedRetryPolicy;
  readonly log: Logger;
}

/**
 * Turns a stream entry into a started delivery workflow: validate, store the payload, route, start.
 *
 * Throws only for transient failures (Redis or Temporal unreachable): the entry then stays pending and is read
 * again. Anything wrong with the entry itself is returned as `dead_letter` with a reason.
 */
export class EventIngestor {
  private readonly matchers = new Map<string, { version: string; matcher: ContentMatcher }>();

  constructor(private readonly deps: EventIngestorDependencies) {}

  async ingest(entryId: string, fields: readonly string[]): Promise<IngestResult> {
    const parsed = parseStreamEntry(entryId, fields, this.deps.limits);
    if (!parsed.ok) return { kind: 'dead_letter', reason: parsed.reason };
    return this.accept(parsed.entry);
  }

  /** Starts delivery of an already validated event. */
  private async accept(entry: AcceptedEntry): Promise<IngestResult> {
    const { tenantId, eventId, eventType, occurredAt, dataJson, data } = entry;
    const envelope: EventEnvelope = {
      id: eventId,
      type: eventType,
      tenant: tenantId,
      occurredAt,
      data,
    };
    // Independent reads and the payload write go out together; the payload is stored before the workflow starts.
    const [, endpoints, tenantPolicy] = await Promise.all([
      this.deps.payloads.put(tenantId, eventId, dataJson),
      this.deps.endpoints.listAll(tenantId),
      this.deps.tenants.getRetryPolicy(tenantId),
    ]);
    const selected = selectEndpoints(envelope, endpoints, (endpoint) => this.matcherFor(endpoint));
    const event: EventRef = { tenantId, eventId, eventType, occurredAt };
    const input: DeliverEventInput = {
      event,
      deliveries: selected.map((endpoint) => ({
        endpointId: endpoint.id,
        retryPolicy: resolveRetryPolicy(endpoint.retryPolicy, tenantPolicy, this.deps.serviceRetryPolicy),
      })),
    };

    const { started, workflowId } = await startDeliveryWorkflow(
      this.deps.temporal,
      this.deps.taskQueue,
      input,
      'REJECT_DUPLICATE',
    );
    if (!started) {
      this.deps.log.info({ tenantId, eventId, workflowId }, 'event already accepted; duplicate ignored');
      return { kind: 'duplicate', workflowId };
    }
    this.deps.log.info({ tenantId, eventId, eventType, workflowId, endpoints: selected.length }, 'event accepted');
    return { kind: 'started', workflowId, endpoints: selected.length };
  }

  /** Compiles each endpoint's filter once per version of the endpoint. */
  private matcherFor(endpoint: Endpoint): ContentMatcher | undefined {
    if (endpoint.filter === undefined) return undefined;
    const key = `${endpoint.tenantId}/${endpoint.id}`;
    const cached = this.matchers.get(key);
    if (cached && cached.version === endpoint.updatedAt) return cached.matcher;
    let matcher: ContentMatcher;
    try {
      matcher = compileFilter(endpoint.filter);
    } catch (err) {
      // Filters are compiled at registration, so this means a stored filter this version no longer accepts.
      // Matching nothing is visible (the workflow records who was routed); guessing could leak events.
      this.deps.log.error(
        { tenantId: endpoint.tenantId, endpointId: endpoint.id, err: (err as Error).message },
        'stored filter does not compile; endpoint gets no events',
      );
      matcher = { matches: () => false };
    }
    if (this.matchers.size > 10_000) this.matchers.clear();
    this.matchers.set(key, { version: endpoint.updatedAt, matcher });
    return matcher;
  }
}
