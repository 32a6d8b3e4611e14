import { z } from 'zod';
import type { ApiDependencies, ApiInstance } from '../api-context';
import { answer, deliveryResponse } from '../response-schemas';
import { eventParams } from '../schemas';

const tags = ['Deliveries'];

/** What happened to an event, and the operator's actions on its delivery. */
export function deliveryRoutes(app: ApiInstance, deps: ApiDependencies): void {
  app.route({
    method: 'GET',
    url: '/v1/tenants/:tenantId/deliveries/:eventId',
    config: { access: 'tenant' },
    schema: {
      operationId: 'getDelivery',
      summary: "An event's delivery status and attempts",
      tags,
      params: eventParams,
      response: { 200: answer('The delivery', deliveryResponse) },
    },
    handler: async (req) => deps.operations.get(req.params.tenantId, req.params.eventId),
  });

  app.route({
    method: 'POST',
    url: '/v1/tenants/:tenantId/deliveries/:eventId/cancel',
    config: { access: 'tenant', errors: [409] },
    schema: {
      operationId: 'cancelDelivery',
      summary: 'Cancel a running delivery',
      tags,
      params: eventParams,
      response: { 202: answer('Cancellation requested', z.object({ cancelled: z.literal(true) })) },
    },
    handler: async (req, reply) =>
      reply.code(202).send(await deps.operations.cancel(req.params.tenantId, req.params.eventId)),
  });

  app.route({
    method: 'POST',
    url: '/v1/tenants/:tenantId/deliveries/:eventId/retry',
    config: { access: 'tenant', errors: [409] },
    schema: {
      operationId: 'retryDelivery',
      summary: "Retry now the event's failed deliveries",
      tags,
      params: eventParams,
      response: {
        202: answer('Retry started', z.object({ workflowId: z.string(), endpoints: z.array(z.string()) })),
      },
    },
    handler: async (req, reply) =>
      reply.code(202).send(await deps.operations.retry(req.params.tenantId, req.params.eventId)),
  });
}
