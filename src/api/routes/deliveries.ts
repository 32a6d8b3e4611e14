import { z } from 'zod';
import { ValidationError } from '../../domain/errors';
import { EVENT_TYPE_PATTERN, MAX_EVENT_TYPE_LENGTH } from '../../domain/event-type';
import type { EndpointId } from '../../domain/ids';
import { RESOURCE_ID_PATTERN } from '../../domain/ids';
import type { ApiDependencies, ApiInstance } from '../api-context';
import { DELIVERY_LIST_STATUSES } from '../delivery-list';
import { answer, deliveryResponse, deliverySummaryResponse } from '../response-schemas';
import { brandedId, eventParams, pageLimit, tenantParams } from '../schemas';

const tags = ['Deliveries'];

/** What happened to an event, and the operator's actions on its delivery. */
export function deliveryRoutes(app: ApiInstance, deps: ApiDependencies): void {
  app.route({
    method: 'GET',
    url: '/v1/tenants/:tenantId/deliveries',
    config: { access: 'tenant' },
    schema: {
      operationId: 'listDeliveries',
      summary: "The tenant's deliveries, filtered by status, event type, endpoint and time",
      description:
        'One row per event: the latest run of its delivery (a retry is a new run). Read from Temporal visibility: running deliveries come first, then closed ones, newest close first. A page may hold fewer than `limit` rows and still have a `nextCursor`. Events routed only to ordered endpoints are delivered by their lane and are not listed.',
      tags,
      params: tenantParams,
      querystring: z
        .object({
          status: z.enum(DELIVERY_LIST_STATUSES).optional().describe('Only deliveries with this status.'),
          eventType: z
            .string()
            .max(MAX_EVENT_TYPE_LENGTH)
            .regex(EVENT_TYPE_PATTERN, 'must be an exact event type such as order.created')
            .optional()
            .describe('Only this exact event type.'),
          endpointId: brandedId<EndpointId>(RESOURCE_ID_PATTERN, 'Only deliveries to this endpoint.').optional(),
          since: z.iso.datetime({ offset: true }).optional().describe('Started at or after this time.'),
          until: z.iso.datetime({ offset: true }).optional().describe('Started at or before this time.'),
          limit: pageLimit(100, 50),
          cursor: z.string().max(4096).optional().describe('`nextCursor` of the previous page.'),
        })
        .strict(),
      response: {
        200: answer(
          'One page',
          z.object({
            items: z.array(deliverySummaryResponse),
            nextCursor: z.string().optional().describe('Pass as `cursor` for the next page; absent on the last page.'),
          }),
        ),
      },
    },
    handler: async (req) => {
      const { tenantId } = req.params;
      const tenant = await deps.tenants.require(tenantId);
      const { status, eventType, endpointId, since, until, limit, cursor } = req.query;
      const sinceMs = since !== undefined ? Date.parse(since) : undefined;
      const untilMs = until !== undefined ? Date.parse(until) : undefined;
      if (sinceMs !== undefined && untilMs !== undefined && sinceMs > untilMs) {
        throw new ValidationError('since is after until', 'since');
      }
      return deps.operations.list(
        tenantId,
        {
          ...(status !== undefined ? { status } : {}),
          ...(eventType !== undefined ? { eventType } : {}),
          ...(endpointId !== undefined ? { endpointId } : {}),
          ...(sinceMs !== undefined ? { sinceMs } : {}),
          ...(untilMs !== undefined ? { untilMs } : {}),
        },
        { limit, ...(cursor !== undefined ? { cursor } : {}), notBeforeMs: Date.parse(tenant.createdAt) },
      );
    },
  });

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
    handler: async (req) => {
      const { webUiUrl, ...view } = await deps.operations.get(req.params.tenantId, req.params.eventId);
      // The Web UI shows every tenant: its link is for operators (the admin token) only.
      return req.principal.kind === 'admin' && webUiUrl !== undefined ? { ...view, webUiUrl } : view;
    },
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
