import type { Endpoint } from '../domain/endpoint';
import { TransformPool } from '../transform/transform-pool';
import type { EventText } from '../domain/event';
import type { TransformResult } from '../transform/transform';

/** Applies an endpoint's transform to one event; `undefined` when the endpoint has none. */
export type TransformRunner = (endpoint: Endpoint, event: EventText) => Promise<TransformResult | undefined>;

/**
 * Runs endpoint transforms in the isolated, bounded pool (see `TransformPool`), inside the delivery activity (no
 * extra Temporal activity per attempt) and for the API's dry run. The pool's children compile and cache each
 * expression text themselves; the tenant is the unit of fair scheduling.
 *
 * @param pool the pool to use; the entry points pass one built from config and close it on shutdown. Without
 *   one, a pool with the default limits is started at the first transform and never closed (its idle children
 *   do not keep the process alive, and they exit with it).
 */
export function createTransformRunner(pool?: Pick<TransformPool, 'run'>): TransformRunner {
  let used = pool;
  return async (endpoint, event) => {
    if (endpoint.transform === undefined) return undefined;
    used ??= new TransformPool();
    return used.run(endpoint.tenantId, endpoint.transform, event);
  };
}
