import { WorkflowNotFoundError } from '@temporalio/client';
import type { Endpoint, RetryPolicySpec } from '../domain/endpoint';
import type { EventEnvelope, EventRef } from '../domain/event';
import type { ResolvedRetryPolicy } from '../domain/retry-policy';
import { resolveRetryPolicy } from '../domain/retry-policy';
import { ContentMatcherCache, selectEndpoints } from '../domain/routing';
import type { EventId, TenantId } from '../domain/ids';
import { deliveryWorkflowId } from '../domain/ids';
import type { AcceptedEntry, EntryLimits, EntryRejectionCode } from '../domain/stream-entry';
import { parseStreamEntry } from '../domain/stream-entry';
import type { Logger } from '../infra/logger';
import { inConsumeSpan } from '../infra/tracing';
import type { EventClaim } from '../store/payload-store';
import type { DeliveryTarget } from '../delivery/start-delivery';
import { STREAM_ENTRY_MEMO, startDelivery } from '../delivery/start-delivery';
import type { DeliverEventInput } from '../delivery/workflow-contract';
import { splitOrderedRoutes } from '../domain/ordering';
import type { OrderedLaneTarget } from './ordered-routing';
import { enqueueOrdered } from './ordered-routing';

/** What became of one stream entry. */
export type IngestResult =
  | {
      readonly kind: 'started';
      readonly workflowId: string;
      readonly endpoints: number;
      /** The server handed the first workflow task straight to this process's worker (eager workflow start). */
      readonly eager?: boolean;
    }
  /** A re-read of an entry whose workflow was already started (a crash or failure before its ack). */
  | { readonly kind: 'already_started'; readonly workflowId: string }
  /** The event id was published before, within the dedupe window (or its delivery is still running). */
  | { readonly kind: 'duplicate'; readonly workflowId: string }
  | { readonly kind: 'dead_letter'; readonly code: EntryRejectionCode; readonly reason: string };

export interface EventIngestorDependencies {
  /** Where deliveries start; its client also answers whether an entry's workflow already started. */
  readonly delivery: DeliveryTarget;
  readonly limits: EntryLimits;
  readonly payloads: {
    claim(
      tenantId: TenantId,
      eventId: EventId,
      entryId: string,
      dataJson: string,
      isVoid?: (holder: string) => Promise<boolean>,
    ): Promise<EventClaim>;
  };
  readonly endpoints: { listAll(tenantId: TenantId): Promise<Endpoint[]> };
  readonly tenants: {
    getRetryPolicy(tenantId: TenantId): Promise<RetryPolicySpec | undefined>;
    get(tenantId: TenantId): Promise<{ readonly createdAt: string } | undefined>;
  };
  readonly serviceRetryPolicy: ResolvedRetryPolicy;
  readonly log: Logger;
  /** Where events of endpoints with ordering go (README "Ordered delivery"); without it ordering is ignored. */
  readonly ordered?: OrderedLaneTarget;
}

/**
 * Turns a stream entry into a started delivery workflow: validate, claim the event id and store the payload,
 * route, start.
 *
 * Throws only for transient failures (Redis or Temporal unreachable): the entry then stays pending and is read
 * again. Anything wrong with the entry itself is returned as `dead_letter` with a reason.
 *
 * Dedupe: the claim (our own Redis record, held for the dedupe window) decides whether an event id is new, not
 * Temporal's retention. A fresh claim starts with ALLOW_DUPLICATE, so a closed run of an earlier event with the same
 * id that Temporal still retains does not swallow the new event; its data was replaced with the claim.
 */
export class EventIngestor {
  /**
   * Filters are compiled at registration, so one that does not compile here is a stored filter this version no
   * longer accepts: the endpoint gets nothing (visible: the workflow records who was routed).
   */
  private readonly matchers: ContentMatcherCache;

  constructor(private readonly deps: EventIngestorDependencies) {
    this.matchers = new ContentMatcherCache((endpoint, err) =>
      deps.log.error(
        { tenantId: endpoint.tenantId, endpointId: endpoint.id, err: err.message },
        'stored filter does not compile; endpoint gets no events',
      ),
    );
  }

  /** `fields` as Redis holds them (bytes, decoded strictly here) or already decoded. */
  async ingest(entryId: string, fields: readonly (Uint8Array | string)[]): Promise<IngestResult> {
    const parsed = parseStreamEntry(entryId, fields, this.deps.limits);
    const entry = parsed.ok ? parsed.entry : undefined;
    // One span per entry (inert with tracing off), the child of the producer's trace context when it sent one.
    return inConsumeSpan({ entryId, ...(entry?.trace ? { parent: entry.trace } : {}) }, async (span) => {
      if (!parsed.ok) {
        span.setAttributes({ 'wss.ingest_result': 'dead_letter', 'wss.dead_letter_reason': parsed.code });
        return { kind: 'dead_letter', code: parsed.code, reason: parsed.reason };
      }
      const { tenantId, eventId, eventType } = parsed.entry;
      span.setAttributes({ 'wss.tenant_id': tenantId, 'wss.event_id': eventId, 'wss.event_type': eventType });
      if (parsed.entry.traceProblem !== undefined) {
        // Tracing is diagnostics: the event is delivered all the same, in a trace of its own.
        span.setAttribute('wss.traceparent_invalid', parsed.entry.trace === undefined);
        this.deps.log.warn(
          { tenantId, eventId, entryId, problem: parsed.entry.traceProblem },
          parsed.entry.trace === undefined
            ? 'traceparent ignored: not valid W3C Trace Context; the event is delivered in a new trace'
            : 'tracestate dropped: not valid W3C Trace Context; the traceparent is used',
        );
      }
      const result = await this.accept(entryId, parsed.entry);
      span.setAttributes({
        'wss.ingest_result': result.kind,
        ...(result.kind === 'started' ? { 'wss.endpoint_count': result.endpoints } : {}),
      });
      return result;
    });
  }

  /** Starts delivery of an already validated event. */
  private async accept(entryId: string, entry: AcceptedEntry): Promise<IngestResult> {
    const { tenantId, eventId, eventType, occurredAt, dataJson, data } = entry;
    const envelope: EventEnvelope = {
      id: eventId,
      type: eventType,
      tenant: tenantId,
      occurredAt,
      data,
    };
    // Independent reads and the claim go out together; the payload is stored before the workflow starts.
    // An id taken by an earlier tenant of this id (deleted, then created again) is free for this one.
    const [claim, endpoints, tenantPolicy] = await Promise.all([
      this.deps.payloads.claim(tenantId, eventId, entryId, dataJson, (holder) =>
        this.claimedBeforeTenant(tenantId, holder),
      ),
      this.deps.endpoints.listAll(tenantId),
      this.deps.tenants.getRetryPolicy(tenantId),
    ]);
    const workflowId = deliveryWorkflowId(tenantId, eventId);
    if (claim.kind === 'duplicate') {
      this.deps.log.info(
        { tenantId, eventId, entryId, claimedBy: claim.claimedBy, workflowId },
        'event id already published within the dedupe window; duplicate ignored',
      );
      return { kind: 'duplicate', workflowId };
    }
    if (claim.kind === 'reclaimed' && (await this.startedFor(workflowId, entryId))) {
      this.deps.log.info({ tenantId, eventId, entryId, workflowId }, 'entry read again; its workflow already started');
      return { kind: 'already_started', workflowId };
    }
    // A test send (the API's `…/endpoints/{id}/send-test`) goes to its one endpoint, by the same rules.
    const candidates =
      entry.onlyEndpoint === undefined ? endpoints : endpoints.filter((e) => e.id === entry.onlyEndpoint);
    const routed = selectEndpoints(envelope, candidates, (endpoint) => this.matchers.matcherFor(endpoint));
    const event: EventRef = { tenantId, eventId, eventType, occurredAt };

    // --- ordered delivery: endpoints with ordering and a key go to their key's lane, before the event's own
    // workflow starts (a started workflow marks the entry done on a re-read, so the lanes must have it by then).
    // A test send is no part of any key's order: it is delivered on its own, and can be followed like any event.
    const { ordered, unordered } =
      this.deps.ordered && entry.onlyEndpoint === undefined
        ? splitOrderedRoutes(routed, envelope, entry.orderingKey)
        : { ordered: [], unordered: routed };
    if (this.deps.ordered && ordered.length > 0) {
      const lanes = await enqueueOrdered(this.deps.ordered, entryId, event, ordered, (route) =>
        resolveRetryPolicy(route.endpoint.retryPolicy, tenantPolicy, this.deps.serviceRetryPolicy),
      );
      if (unordered.length === 0) {
        this.deps.log.info({ tenantId, eventId, eventType, lanes: lanes.length }, 'event accepted (ordered only)');
        return { kind: 'started', workflowId: lanes[0] as string, endpoints: ordered.length };
      }
    }
    const selected = unordered;
    // --- end ordered delivery

    const input: DeliverEventInput = {
      event,
      deliveries: selected.map((endpoint) => ({
        endpointId: endpoint.id,
        retryPolicy: resolveRetryPolicy(endpoint.retryPolicy, tenantPolicy, this.deps.serviceRetryPolicy),
      })),
    };

    const { started, eagerlyStarted } = await startDelivery(this.deps.delivery, input, 'ALLOW_DUPLICATE', entryId);
    if (!started) {
      // The dedupe window is over, but a delivery of the earlier event with this id is still running.
      this.deps.log.warn(
        { tenantId, eventId, entryId, workflowId },
        'a delivery with this event id is still running; duplicate ignored',
      );
      return { kind: 'duplicate', workflowId };
    }
    const eager = eagerlyStarted === true;
    this.deps.log.info(
      { tenantId, eventId, eventType, workflowId, endpoints: selected.length, eager },
      'event accepted',
    );
    return { kind: 'started', workflowId, endpoints: selected.length, eager };
  }

  /**
   * Whether the entry holding an event id's claim was added before the tenant was created: it then belongs to an
   * earlier tenant of the same id (deleted, then created again), whose claims are not deleted with it. The time is
   * the holder's stream entry id's; a claim kept by an operator's replay (no entry id) counts as current.
   */
  private async claimedBeforeTenant(tenantId: TenantId, holder: string): Promise<boolean> {
    const addedMs = /^(\d+)-\d+$/.exec(holder)?.[1];
    if (addedMs === undefined) return false;
    const tenant = await this.deps.tenants.get(tenantId);
    return tenant !== undefined && Number(addedMs) < Date.parse(tenant.createdAt);
  }

  /** Whether the latest run of `workflowId` was started for this stream entry (its memo says so). */
  private async startedFor(workflowId: string, entryId: string): Promise<boolean> {
    try {
      const description = await this.deps.delivery.client.workflow.getHandle(workflowId).describe();
      return description.memo?.[STREAM_ENTRY_MEMO] === entryId;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }
}
