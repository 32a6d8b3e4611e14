import type { EndpointId, TenantId } from './ids';

/** Events about the service itself, for operators: endpoints the service disabled, consumer groups it recreated. */
export type OperationalEvent = EndpointDisabledEvent | ConsumerGroupRecreatedEvent;

/**
 * The stream consumer found its group gone (XGROUP DESTROY, the stream key deleted, Redis restarted empty) and
 * recreated it. Entries that were pending in the lost group are no longer known to Redis.
 */
export interface ConsumerGroupRecreatedEvent {
  readonly type: 'consumer.group_recreated';
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  /** The group delivers entries after this id (`0`: the whole stream). */
  readonly fromId: string;
  /** The Redis error that revealed the loss. */
  readonly detail: string;
  readonly at: string;
}

export interface EndpointDisabledEvent {
  readonly type: 'endpoint.disabled';
  readonly tenantId: TenantId;
  readonly endpointId: EndpointId;
  /** `gone` (410), `failing` (failure threshold), ... */
  readonly reason: string;
  readonly detail: string;
  readonly at: string;
}

/** Tells an operator of an operational event (the operator webhook implements it). */
export interface OperatorNotifier {
  /**
   * @param id stable id of the event (the id of its entry in the operational-events stream), sent as the
   *   message id so the operator's receiver can deduplicate.
   */
  notify(event: OperationalEvent, id: string): Promise<void>;
}
