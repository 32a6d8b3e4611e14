import type { EventId, TenantId } from './ids';

/**
 * The event envelope: what a producer publishes, what filters see and what the default body carries.
 * `data` is any JSON value.
 */
export interface EventEnvelope {
  readonly id: string;
  readonly type: string;
  readonly tenant: string;
  /** ISO-8601 time the event entered the stream. */
  readonly occurredAt: string;
  readonly data: unknown;
}

/** The small, secret-free part of an event that travels through Temporal history. */
export interface EventRef {
  readonly tenantId: TenantId;
  readonly eventId: EventId;
  readonly eventType: string;
  readonly occurredAt: string;
}

/**
 * An event as stored: the envelope's fields, and `data` as the exact JSON text the producer published. A
 * transform reads it through a lossless parse (see `transform/transform.ts` on numbers).
 */
export interface EventText {
  readonly id: string;
  readonly type: string;
  readonly tenant: string;
  readonly occurredAt: string;
  readonly dataJson: string;
}
