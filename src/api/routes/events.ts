import { z } from 'zod';
import { PayloadTooLargeError, ReplicationNotConfirmedError } from '../../domain/errors';
import { eventIdFromEntryId } from '../../domain/ids';
import { utf8Length } from '../../domain/stream-entry';
import { ReplicationUnconfirmed } from '../../infra/redis';
import { eventBodyRoute } from '../event-body';
import type { ApiDependencies, ApiInstance } from '../api-context';
import { answer } from '../response-schemas';
import { publishEventSchema, tenantParams } from '../schemas';

/** `Retry-After` of a publish whose replication was not confirmed: long enough for a replica to catch up. */
const REPLICATION_RETRY_AFTER_SECONDS = 2;

export function eventRoutes(app: ApiInstance, deps: ApiDependencies): void {
  const { config, preValidation, dataJson } = eventBodyRoute(deps.maxEventDepth);
  app.route({
    method: 'POST',
    url: '/v1/tenants/:tenantId/events',
    config: { ...config, access: 'tenant', errors: [503] },
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
      const { type, id, traceparent, tracestate, orderingKey } = req.body;
      let entryId: string;
      try {
        entryId = await deps.publisher.publish({
          tenantId,
          type,
          dataJson: data,
          ...(id !== undefined ? { id } : {}),
          ...(orderingKey !== undefined ? { orderingKey } : {}),
          ...(traceparent !== undefined
            ? { trace: { traceparent, ...(tracestate !== undefined ? { tracestate } : {}) } }
            : {}),
        });
      } catch (err) {
        // The entry is in the stream; only the replicas' confirmation is missing. Not a server fault to hide behind
        // a 500: say what happened and that a republish with the same id is safe.
        if (err instanceof ReplicationUnconfirmed) {
          throw new ReplicationNotConfirmedError(
            `the event was written and may be delivered, but Redis replicas did not confirm it in time; publishing it again with the same id is safe (deduplicated)${id === undefined ? ': give an id to make a republish safe' : ''}`,
            REPLICATION_RETRY_AFTER_SECONDS,
            { cause: err },
          );
        }
        throw err;
      }
      return reply.code(202).send({ id: id ?? eventIdFromEntryId(entryId), streamEntryId: entryId });
    },
  });
}
