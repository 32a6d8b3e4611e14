import { z } from 'zod';
import { PayloadTooLargeError } from '../../domain/errors';
import { eventIdFromEntryId } from '../../domain/ids';
import { utf8Length } from '../../domain/stream-entry';
import { eventBodyRoute } from '../event-body';
import type { ApiDependencies, ApiInstance } from '../api-context';
import { answer } from '../response-schemas';
import { publishEventSchema, tenantParams } from '../schemas';

export function eventRoutes(app: ApiInstance, deps: ApiDependencies): void {
  const { config, preValidation, dataJson } = eventBodyRoute(deps.maxEventDepth);
  app.route({
    method: 'POST',
    url: '/v1/tenants/:tenantId/events',
    config: { ...config, access: 'tenant' },
    preValidation,
    schema: {
      operationId: 'publishEvent',
      summary: 'Publish an event (like a producer XADD)',
      tags: ['Events'],
      params: tenantParams,
      body: publishEventSchema,
      response: {
        202: answer('Accepted for delivery', z.object({ id: z.string(), streamEntryId: z.string() })),
      },
    },
    handler: async (req, reply) => {
      const { tenantId } = req.params;
      await deps.tenants.require(tenantId);
      const data = dataJson(req);
      const size = utf8Length(data);
      if (size > deps.maxEventBytes) {
        throw new PayloadTooLargeError(`data is ${size} bytes, over the ${deps.maxEventBytes}-byte limit`);
      }
      const { type, id, traceparent, tracestate } = req.body;
      const entryId = await deps.publisher.publish({
        tenantId,
        type,
        dataJson: data,
        ...(id !== undefined ? { id } : {}),
        ...(traceparent !== undefined
          ? { trace: { traceparent, ...(tracestate !== undefined ? { tracestate } : {}) } }
          : {}),
      });
      return reply.code(202).send({ id: id ?? eventIdFromEntryId(entryId), streamEntryId: entryId });
    },
  });
}
