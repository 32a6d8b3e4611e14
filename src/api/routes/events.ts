import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import {
  NotFoundError,
  PayloadTooLargeError,
  ReplicationNotConfirmedError,
  TestEventNotRoutedError,
} from '../../domain/errors';
import type { RoutingMiss } from '../../domain/routing';
import { ContentMatcherCache, findRoutingMiss } from '../../domain/routing';
import { eventIdFromEntryId } from '../../domain/ids';
import { utf8Length } from '../../domain/stream-entry';
import { ReplicationUnconfirmed } from '../../infra/redis';
import { eventBodyRoute } from '../event-body';
import type { ApiDependencies, ApiInstance } from '../api-context';
import { answer } from '../response-schemas';
import { endpointParams, publishEventSchema, tenantParams, testEventSchema } from '../schemas';

/** `Retry-After` of a publish whose replication was not confirmed: long enough for a replica to catch up. */
const REPLICATION_RETRY_AFTER_SECONDS = 2;

/** Why a test send would reach nobody, as its 422 says it. */
const NOT_ROUTED: Record<RoutingMiss, string> = {
  endpoint_disabled: 'the endpoint is disabled',
  event_type: 'the endpoint is not subscribed to this event type',
  filter: "the endpoint's filter does not match this event",
};

export function eventRoutes(app: ApiInstance, deps: ApiDependencies): void {
  const { config, preValidation, dataJson } = eventBodyRoute(deps.maxEventDepth);
  // A stored filter that no longer compiles matches nothing, as in routing.
  const matchers = new ContentMatcherCache(() => undefined);

  /** XADDs the request's event (its `data` as written) and answers the stream entry id. */
  async function publish(
    req: FastifyRequest,
    event: Omit<Parameters<ApiDependencies['publisher']['publish']>[0], 'dataJson'>,
  ): Promise<string> {
    const data = dataJson(req);
    const size = utf8Length(data);
    if (size > deps.maxEventBytes) {
      throw new PayloadTooLargeError(`data is ${size} bytes, over the ${deps.maxEventBytes}-byte limit`);
    }
    try {
      return await deps.publisher.publish({ ...event, dataJson: data });
    } catch (err) {
      // The entry is in the stream; only the replicas' confirmation is missing. Not a server fault to hide behind
      // a 500: say what happened and that a republish with the same id is safe.
      if (err instanceof ReplicationUnconfirmed) {
        throw new ReplicationNotConfirmedError(
          `the event was written and may be delivered, but Redis replicas did not confirm it in time; publishing it again with the same id is safe (deduplicated)${event.id === undefined ? ': give an id to make a republish safe' : ''}`,
          REPLICATION_RETRY_AFTER_SECONDS,
          { cause: err },
        );
      }
      throw err;
    }
  }

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
      const { type, id, traceparent, tracestate, orderingKey } = req.body;
      const entryId = await publish(req, {
        tenantId,
        type,
        ...(id !== undefined ? { id } : {}),
        ...(orderingKey !== undefined ? { orderingKey } : {}),
        ...(traceparent !== undefined
          ? { trace: { traceparent, ...(tracestate !== undefined ? { tracestate } : {}) } }
          : {}),
      });
      return reply.code(202).send({ id: id ?? eventIdFromEntryId(entryId), streamEntryId: entryId });
    },
  });

  app.route({
    method: 'POST',
    url: '/v1/tenants/:tenantId/endpoints/:endpointId/send-test',
    config: { ...config, access: 'tenant', errors: [422, 503] },
    preValidation,
    schema: {
      operationId: 'sendTestEvent',
      summary: 'Send a test event to this endpoint only',
      description:
        "Publishes a real event, like `POST …/events`, that is routed to this one endpoint (by the usual rules: enabled, subscribed to the type, filter), never to the tenant's other endpoints. Follow it with `GET …/deliveries/{id}`.",
      tags: ['Events'],
      params: endpointParams,
      body: testEventSchema,
      response: {
        202: answer(
          'Accepted for delivery to this endpoint',
          z.object({ id: z.string(), endpointId: z.string(), streamEntryId: z.string() }),
        ),
      },
    },
    handler: async (req, reply) => {
      const { tenantId, endpointId } = req.params;
      const endpoint = await deps.endpoints.get(tenantId, endpointId);
      if (!endpoint) throw new NotFoundError(`endpoint ${endpointId} not found`);
      // The consumer would route it to nobody: say so now, rather than answer "sent" for a `no_subscribers`.
      const miss = await findRoutingMiss(
        endpoint,
        req.body.type,
        (e) => matchers.matcherFor(e),
        () => ({
          id: 'evt_test',
          type: req.body.type,
          tenant: tenantId,
          occurredAt: new Date().toISOString(),
          data: req.body.data, // parsed once, by the body parser
        }),
      );
      if (miss !== undefined) throw new TestEventNotRoutedError(`not sent: ${NOT_ROUTED[miss]}`);
      const entryId = await publish(req, { tenantId, type: req.body.type, onlyEndpoint: endpointId });
      return reply.code(202).send({ id: eventIdFromEntryId(entryId), endpointId, streamEntryId: entryId });
    },
  });
}
