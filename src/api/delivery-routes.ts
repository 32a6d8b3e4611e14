import { z } from 'zod';
import { NotFoundError, ValidationError } from '../domain/errors';
import { parseEndpointId, parseEventId } from '../domain/ids';
import type { EndpointStore } from '../store/endpoint-store';
import type { DeliveryOperations } from './delivery-operations';
import { validate } from './http-kit';
import type { AuthedRouter, AuthenticatedRequest } from './server';
import { tenantOf } from './server';

export const replaySchema = z
  .object({
    since: z.iso.datetime({ offset: true }).describe('Replay dead letters that failed at or after this time.'),
    until: z.iso.datetime({ offset: true }).optional().describe('... and at or before this time (default: now).'),
  })
  .strict();

/** Delivery inspection and operations: status, cancel, retry, dead letters, replay. */
export function registerDeliveryRoutes(
  router: AuthedRouter,
  deps: { operations: DeliveryOperations; endpoints: EndpointStore },
): void {
  const ids = (req: AuthenticatedRequest) => {
    const tenantId = tenantOf(req);
    const eventId = parseEventId(req.params['eventId'] ?? '');
    return { tenantId, eventId };
  };

  router.add('GET', '/v1/tenants/:tenantId/deliveries/:eventId', async (req) => {
    const { tenantId, eventId } = ids(req);
    return { status: 200, body: await deps.operations.get(tenantId, eventId) };
  });
  router.add('POST', '/v1/tenants/:tenantId/deliveries/:eventId/cancel', async (req) => {
    const { tenantId, eventId } = ids(req);
    return { status: 202, body: await deps.operations.cancel(tenantId, eventId) };
  });
  router.add('POST', '/v1/tenants/:tenantId/deliveries/:eventId/retry', async (req) => {
    const { tenantId, eventId } = ids(req);
    return { status: 202, body: await deps.operations.retry(tenantId, eventId) };
  });
  router.add('GET', '/v1/tenants/:tenantId/dead-letters', async (req) => {
    const tenantId = tenantOf(req);
    const endpointId = req.query.get('endpointId');
    const since = parseTime(req.query.get('since'), 'since');
    const until = parseTime(req.query.get('until'), 'until');
    const items = await deps.operations.listDeadLetters(tenantId, {
      ...(endpointId ? { endpointId: parseEndpointId(endpointId) } : {}),
      ...(since !== undefined ? { sinceMs: since } : {}),
      ...(until !== undefined ? { untilMs: until } : {}),
    });
    return { status: 200, body: { items } };
  });
  router.add('POST', '/v1/tenants/:tenantId/endpoints/:endpointId/replay', async (req) => {
    const tenantId = tenantOf(req);
    const endpointId = parseEndpointId(req.params['endpointId'] ?? '');
    const body = validate(replaySchema, await req.json());
    if (!(await deps.endpoints.get(tenantId, endpointId))) throw new NotFoundError(`endpoint ${endpointId} not found`);
    const result = await deps.operations.replay(
      tenantId,
      endpointId,
      Date.parse(body.since),
      body.until ? Date.parse(body.until) : undefined,
    );
    return { status: 202, body: result };
  });
}

function parseTime(raw: string | null, field: string): number | undefined {
  if (raw === null) return undefined;
  const ms = Date.parse(raw);
  if (Number.isNaN(ms)) throw new ValidationError(`${field}: must be an ISO-8601 time`, field);
  return ms;
}
