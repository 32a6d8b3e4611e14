import type { DeliveryResult, DeliveryStatus } from '../domain/delivery-outcome';
import type { EventRef } from '../domain/event';
import type { EndpointId } from '../domain/ids';
import type { ResolvedRetryPolicy } from '../domain/retry-policy';

/*
 * The delivery workflow's contract: what the consumer and the API start it with, and what it returns. Types only,
 * sandbox-safe: the workflow bundle, the worker, the consumer and the API all import it.
 */

/** One endpoint the event is routed to, with the retry policy resolved when the event was accepted. */
export interface PlannedDelivery {
  readonly endpointId: EndpointId;
  readonly retryPolicy: ResolvedRetryPolicy;
  /** An operator retry or replay of a delivery that failed before. */
  readonly redelivery?: boolean;
}

/** Workflow input: ids and policies only. Payloads and secrets are loaded by the activity at attempt time. */
export interface DeliverEventInput {
  readonly event: EventRef;
  readonly deliveries: readonly PlannedDelivery[];
}

export interface DeliverEventResult {
  readonly status: DeliveryStatus;
  readonly deliveries: readonly DeliveryResult[];
}

/**
 * The shape of the delivery workflow function. `startDelivery` takes the workflow by reference with this type, so
 * the workflow is started by the function the worker registers, never by a name typed twice.
 */
export type DeliverEventWorkflow = (input: DeliverEventInput) => Promise<DeliverEventResult>;
