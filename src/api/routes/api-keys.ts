import { z } from 'zod';
import type { ApiDependencies, ApiInstance } from '../api-context';
import { answer, apiKeyResponse, noContent } from '../response-schemas';
import { apiKeyParams, createApiKeySchema, tenantParams } from '../schemas';

const tags = ['API keys'];

/** Tenant API keys: only the admin hands them out. */
export function apiKeyRoutes(app: ApiInstance, deps: ApiDependencies): void {
  app.route({
    method: 'POST',
    url: '/v1/tenants/:tenantId/api-keys',
    config: { access: 'admin', optionalBody: true },
    schema: {
      operationId: 'createApiKey',
      summary: 'Create a tenant API key (shown once)',
      tags,
      params: tenantParams,
      body: createApiKeySchema,
      response: {
        201: answer(
          'Created; `key` is shown only here',
          apiKeyResponse.extend({ key: z.string().describe('The bearer token. Shown once, never again.') }),
        ),
      },
    },
    handler: async (req, reply) => {
      await deps.tenants.require(req.params.tenantId);
      const created = await deps.apiKeys.create(req.params.tenantId, req.body.name);
      return reply.code(201).send({ ...created.record, key: created.key });
    },
  });

  app.route({
    method: 'GET',
    url: '/v1/tenants/:tenantId/api-keys',
    config: { access: 'admin' },
    schema: {
      operationId: 'listApiKeys',
      summary: "List a tenant's API keys (never the keys themselves)",
      tags,
      params: tenantParams,
      response: { 200: answer('Keys', z.object({ items: z.array(apiKeyResponse) })) },
    },
    handler: async (req) => {
      await deps.tenants.require(req.params.tenantId);
      return { items: await deps.apiKeys.list(req.params.tenantId) };
    },
  });

  app.route({
    method: 'DELETE',
    url: '/v1/tenants/:tenantId/api-keys/:keyId',
    config: { access: 'admin' },
    schema: {
      operationId: 'revokeApiKey',
      summary: 'Revoke an API key',
      tags,
      params: apiKeyParams,
      response: { 204: noContent('Revoked') },
    },
    handler: async (req, reply) => {
      await deps.apiKeys.revoke(req.params.tenantId, req.params.keyId);
      return reply.code(204).send();
    },
  });
}
