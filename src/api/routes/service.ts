import { z } from 'zod';
import type { ApiDependencies, ApiInstance } from '../api-context';
import { answer, healthResponse } from '../response-schemas';

const tags = ['Service'];

/**
 * Unauthenticated routes: health and the OpenAPI document (Swagger UI at /docs is registered with it). Both answer
 * HEAD as GET without a body: load balancers and uptime checks probe with HEAD, and RFC 9110 §9.3.2 expects it
 * wherever GET works.
 */
export function serviceRoutes(app: ApiInstance, deps: Pick<ApiDependencies, 'health'>): void {
  app.route({
    method: 'GET',
    url: '/healthz',
    exposeHeadRoute: true,
    config: { access: 'public' },
    schema: {
      operationId: 'getHealth',
      summary: 'Liveness and dependency checks',
      tags,
      response: { 200: answer('Healthy', healthResponse), 503: answer('A dependency is down', healthResponse) },
    },
    handler: async (_req, reply) => {
      const { checks, notices } = await deps.health();
      const healthy = Object.values(checks).every((v) => v === 'ok');
      return reply
        .code(healthy ? 200 : 503)
        .send({ status: healthy ? 'ok' : 'degraded', checks, ...(notices?.length ? { notices } : {}) });
    },
  });

  app.route({
    method: 'GET',
    url: '/openapi.json',
    exposeHeadRoute: true,
    config: { access: 'public' },
    schema: {
      operationId: 'getOpenApi',
      summary: 'This OpenAPI document (Swagger UI renders it at /docs)',
      tags,
      response: { 200: answer('OpenAPI 3.1 document', z.record(z.string(), z.unknown())) },
    },
    handler: async () => app.swagger() as unknown as Record<string, unknown>,
  });
}
