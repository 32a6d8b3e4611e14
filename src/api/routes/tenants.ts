import { z } from 'zod';
import type { ApiDependencies, ApiInstance } from '../api-context';
import { answer, tenantResponse } from '../response-schemas';
import { createTenantSchema, tenantParams } from '../schemas';

const tags = ['Tenants'];

export function tenantRoutes(app: ApiInstance, deps: ApiDependencies): void {
  app.route({
    method: 'POST',
    url: '/v1/tenants',
    config: { access: 'admin', errors: [409] },
    schema: {
      operationId: 'createTenant',
      summary: 'Create a tenant',
      tags,
      body: createTenantSchema,
      response: { 201: answer('Created', tenantResponse) },
    },
    handler: async (req, reply) => {
      const { id, ...input } = req.body;
      return reply.code(201).send(await deps.tenants.create(id, input));
    },
  });

  app.route({
    method: 'GET',
    url: '/v1/tenants',
    config: { access: 'tenant' },
    schema: {
      operationId: 'listTenants',
      summary: 'List tenants (a tenant key sees only its own)',
      tags,
      response: { 200: answer('Tenants', z.object({ items: z.array(tenantResponse) })) },
    },
    handler: async (req) => {
      if (req.principal.kind === 'tenant') return { items: [await deps.tenants.require(req.principal.tenantId)] };
      return { items: await deps.tenants.list() };
    },
  });

  app.route({
    method: 'GET',
    url: '/v1/tenants/:tenantId',
    config: { access: 'tenant' },
    schema: {
      operationId: 'getTenant',
      summary: 'Get a tenant',
      tags,
      params: tenantParams,
      response: { 200: answer('The tenant', tenantResponse) },
    },
    handler: async (req) => deps.tenants.require(req.params.tenantId),
  });

  app.route({
    method: 'DELETE',
    url: '/v1/tenants/:tenantId',
    config: { access: 'admin' },
    schema: {
      operationId: 'deleteTenant',
      summary: 'Delete a tenant, its endpoints and API keys, and cancel its deliveries',
      tags,
      params: tenantParams,
      response: {
        200: answer(
          'Deleted',
          z.object({ deleted: z.string(), endpoints: z.number().int(), cancelledDeliveries: z.number().int() }),
        ),
      },
    },
    handler: async (req) => {
      const { tenantId } = req.params;
      await deps.tenants.require(tenantId);
      // Endpoints go first: an in-flight delivery whose endpoint is gone is skipped at its next attempt.
      const endpoints = await deps.endpoints.deleteAll(tenantId);
      await deps.apiKeys.revokeAll(tenantId);
      await deps.signingKeys.deleteAll(tenantId);
      const cancelledDeliveries = await deps.operations.cancelTenant(tenantId);
      // Its dead letters go too; its deliveries stay in Temporal's history (the retention period) but are never
      // shown to a tenant created again under this id (the API reads only deliveries started after its creation).
      await deps.operations.forgetTenant(tenantId);
      await deps.tenants.delete(tenantId);
      return { deleted: tenantId, endpoints, cancelledDeliveries };
    },
  });
}
