import { NotFoundError } from '../../domain/errors';
import type { EndpointId, TenantId } from '../../domain/ids';
import { orderingKeyHash } from '../../domain/ordering';
import type { ApiDependencies, ApiInstance } from '../api-context';
import { answer, pausedKeysResponse, resumedKeyResponse } from '../response-schemas';
import { endpointParams, orderingKeyBodySchema } from '../schemas';

const tags = ['Ordering'];

/** Ordered delivery per key: the keys an endpoint holds after a failed head, and resuming one (README "Ordered delivery"). */
export function orderingRoutes(app: ApiInstance, deps: ApiDependencies): void {
  async function requireEndpoint(params: { tenantId: TenantId; endpointId: EndpointId }): Promise<void> {
    const endpoint = await deps.endpoints.get(params.tenantId, params.endpointId);
    if (!endpoint) throw new NotFoundError(`endpoint ${params.endpointId} not found`);
  }

  app.route({
    method: 'GET',
    url: '/v1/tenants/:tenantId/endpoints/:endpointId/ordering/paused',
    config: { access: 'tenant' },
    schema: {
      operationId: 'listPausedOrderingKeys',
      summary: "The endpoint's ordering keys paused after a failed head (at most 1,000)",
      tags,
      params: endpointParams,
      response: { 200: answer('Paused keys, oldest pause first', pausedKeysResponse) },
    },
    handler: async (req) => {
      await requireEndpoint(req.params);
      return { items: await deps.orderedLanes.listPaused(req.params.tenantId, req.params.endpointId) };
    },
  });

  app.route({
    method: 'POST',
    url: '/v1/tenants/:tenantId/endpoints/:endpointId/ordering/resume',
    config: { access: 'tenant', errors: [409] },
    schema: {
      operationId: 'resumeOrderingKey',
      summary: 'Resume a paused ordering key: its next event is delivered, the failed one stays dead-lettered',
      tags,
      params: endpointParams,
      body: orderingKeyBodySchema,
      response: { 202: answer('Resumed', resumedKeyResponse) },
    },
    handler: async (req, reply) => {
      await requireEndpoint(req.params);
      const keyHash = req.body.keyHash ?? orderingKeyHash(req.body.key as string);
      const resumed = await deps.orderedLanes.resume(req.params.tenantId, req.params.endpointId, keyHash);
      return reply.code(202).send({ resumed: true as const, ...resumed });
    },
  });
}
