import { z } from 'zod';
import { NotFoundError, ValidationError } from '../../domain/errors';
import type { EndpointId } from '../../domain/ids';
import { RESOURCE_ID_PATTERN } from '../../domain/ids';
import type { ApiDependencies, ApiInstance } from '../api-context';
import { answer, deadLetterResponse, replayResponse } from '../response-schemas';
import { brandedId, endpointParams, tenantParams } from '../schemas';

const tags = ['Deliveries'];

/** Any time `Date.parse` reads (ISO-8601 is what clients should send). */
const time = (description: string) =>
  z
    .string()
    .refine((value) => !Number.isNaN(Date.parse(value)), 'must be an ISO-8601 time')
    .describe(description);

export const replaySchema = z
  .object({
    since: z.iso.datetime({ offset: true }).describe('Replay dead letters that failed at or after this time.'),
    until: z.iso.datetime({ offset: true }).optional().describe('... and at or before this time (default: now).'),
  })
  .strict();

/** Deliveries that failed for good, and replaying them. */
export function deadLetterRoutes(app: ApiInstance, deps: ApiDependencies): void {
  app.route({
    method: 'GET',
    url: '/v1/tenants/:tenantId/dead-letters',
    config: { access: 'tenant' },
    schema: {
      operationId: 'listDeadLetters',
      summary: 'Deliveries that failed for good',
      tags,
      params: tenantParams,
      querystring: z.object({
        endpointId: brandedId<EndpointId>(RESOURCE_ID_PATTERN, 'Only this endpoint.').optional(),
        since: time('Failed at or after this time.').optional(),
        until: time('Failed at or before this time.').optional(),
      }),
      response: { 200: answer('Dead letters', z.object({ items: z.array(deadLetterResponse) })) },
    },
    handler: async (req) => {
      const { endpointId, since, until } = req.query;
      const items = await deps.operations.listDeadLetters(req.params.tenantId, {
        ...(endpointId !== undefined ? { endpointId } : {}),
        ...(since !== undefined ? { sinceMs: Date.parse(since) } : {}),
        ...(until !== undefined ? { untilMs: Date.parse(until) } : {}),
      });
      return { items };
    },
  });

  app.route({
    method: 'POST',
    url: '/v1/tenants/:tenantId/endpoints/:endpointId/replay',
    config: { access: 'tenant' },
    schema: {
      operationId: 'replayEndpoint',
      summary: "Replay an endpoint's dead letters from a time range",
      tags,
      params: endpointParams,
      body: replaySchema,
      response: { 202: answer('Replays started', replayResponse) },
    },
    handler: async (req, reply) => {
      const { tenantId, endpointId } = req.params;
      if (!(await deps.endpoints.get(tenantId, endpointId)))
        throw new NotFoundError(`endpoint ${endpointId} not found`);
      const { since, until } = req.body;
      if (until !== undefined && Date.parse(since) > Date.parse(until)) {
        throw new ValidationError('since is after until', 'since');
      }
      const result = await deps.operations.replay(
        tenantId,
        endpointId,
        Date.parse(since),
        until !== undefined ? Date.parse(until) : undefined,
      );
      return reply.code(202).send(result);
    },
  });
}
