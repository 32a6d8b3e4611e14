import type { EventRef } from '../domain/event';
import type { EndpointId, EventId, TenantId } from '../domain/ids';
import type { OrderingFailureAction } from '../domain/ordering';
import type { ResolvedRetryPolicy } from '../domain/retry-policy';

/*
 * The contract of the ordered-delivery lane: one sequencer workflow per (tenant, endpoint, key hash) that delivers
 * the key's events to the endpoint one at a time, in stream order. Types and names only, sandbox-safe: the
 * workflow, the consumer (signal-with-start) and the API (resume, paused keys) import it.
 */

/** Signal name: one event for the lane (`OrderedItem`). */
export const ORDERED_ENQUEUE_SIGNAL = 'orderedEnqueue';
/** Signal name: resume a paused lane (no arguments). */
export const ORDERED_RESUME_SIGNAL = 'orderedResume';
/** Query name: the lane's state (`OrderedLaneState`). */
export const ORDERED_STATE_QUERY = 'orderedState';

/** `DeliveryStatus` search attribute of a lane: running, or held after a failed head. */
export const LANE_STATUS_RUNNING = 'ordering';
export const LANE_STATUS_PAUSED = 'paused';

/** Where the order guarantee is checked: the stream and consumer group the events were read from. */
export interface StreamGroupRef {
  readonly stream: string;
  readonly group: string;
}

/** One event in a lane. `seq` (the stream entry id) orders the lane and makes a re-read of the entry a no-op. */
export interface OrderedItem {
  readonly seq: string;
  readonly event: EventRef;
  readonly retryPolicy: ResolvedRetryPolicy;
  /** The endpoint's choice when the event was accepted. */
  readonly onFailure: OrderingFailureAction;
}

/** The event a paused lane stopped at (it was dead-lettered). */
export interface PausedHead {
  readonly eventId: EventId;
  readonly seq: string;
  /** ISO time of the pause. */
  readonly pausedAt: string;
  readonly lastError?: string;
}

/**
 * A lane's input: its identity, and the state carried across continue-as-new (absent on a fresh start). No key and
 * no payload: the key is known by its hash only.
 */
export interface OrderedLaneInput {
  readonly tenantId: TenantId;
  readonly endpointId: EndpointId;
  readonly keyHash: string;
  readonly source: StreamGroupRef;
  /** Events received and not yet delivered or dead-lettered, sorted by `seq`. */
  readonly queue?: readonly OrderedItem[];
  /** The highest `seq` taken off the queue: anything at or below it is a re-read. */
  readonly lastSeq?: string;
  /** Every stream entry below this id was handled by the consumer (signalled or refused) when last checked. */
  readonly handledBelow?: string;
  readonly paused?: PausedHead;
  /** How long an empty lane waits for its next event before the run ends, in ms. Default 60 s. */
  readonly idleMs?: number;
  /** Events handled per run before it continues as new. Default 200 (about 2,000 history events). */
  readonly eventsPerRun?: number;
}

export interface OrderedLaneState {
  readonly paused?: PausedHead;
  readonly queued: number;
  readonly lastSeq?: string;
}

export type OrderedLaneWorkflow = (input: OrderedLaneInput) => Promise<void>;
