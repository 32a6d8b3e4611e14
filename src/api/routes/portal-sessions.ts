import { z } from 'zod';
import { NotFoundError } from '../../domain/errors';
import type { ApiDependencies, ApiInstance } from '../api-context';
import { bearerToken } from '../auth';
import { answer, noContent } from '../response-schemas';
import { tenantParams } from '../schemas';

const tags = ['Tenants'];

/** Longest and default lifetime of a portal link. Short: a link is meant to be opened at once, from a dashboard. */
const MAX_TTL_SECONDS = 24 * 3600;
const DEFAULT_TTL_SECONDS = 15 * 60;

/** Portal links: short-lived, tenant-scoped sign-ins to the tenant portal served at `/portal`. */
export function portalSessionRoutes(app: ApiInstance, deps: ApiDependencies): void {
  app.route({
    method: 'POST',
    url: '/v1/tenants/:tenantId/portal-sessions',
    config: { access: 'tenant', optionalBody: true },
    schema: {
      operationId: 'createPortalSession',
      summary: "Mint a short-lived link to the tenant portal, with only this tenant's rights",
      tags,
      params: tenantParams,
      body: z
        .object({
          ttlSeconds: z
            .number()
            .int()
            .min(1)
            .max(MAX_TTL_SECONDS)
            .default(DEFAULT_TTL_SECONDS)
            .describe(`Lifetime of the link in seconds (at most ${MAX_TTL_SECONDS}). Default ${DEFAULT_TTL_SECONDS}.`),
        })
        .strict(),
      response: {
        201: answer(
          'Created; the token is shown only here',
          z.object({
            url: z
              .string()
              .describe(
                'Path of the portal with the token in its fragment (`/portal/#session=wps_…`); prefix it with the API base URL. The fragment never reaches the server or its logs.',
              ),
            token: z.string().describe('The session token (`wps_…`), a bearer token for this tenant until it expires.'),
            expiresAt: z.string().describe('ISO-8601 time from which the link is refused.'),
          }),
        ),
      },
    },
    handler: async (req, reply) => {
      const { tenantId } = req.params;
      // A portal session cannot mint another one: its rights would outlive it.
      if (req.principal.kind === 'tenant' && req.principal.portal === true) throw new NotFoundError('not found');
      const tenant = await deps.tenants.require(tenantId);
      const session = await deps.portalSessions.create(tenantId, req.body.ttlSeconds, {
        ...(req.principal.kind === 'tenant' ? { mintedBy: req.principal.keyId } : {}),
        tenantCreatedAt: tenant.createdAt,
      });
      return reply.code(201).send({ url: `/portal/#session=${session.token}`, ...session });
    },
  });

  app.route({
    method: 'DELETE',
    url: '/v1/tenants/:tenantId/portal-sessions',
    config: { access: 'tenant' },
    schema: {
      operationId: 'revokePortalSessions',
      summary: 'End every portal link of the tenant minted until now (admin or tenant key)',
      tags,
      params: tenantParams,
      response: {
        200: answer(
          'Revoked',
          z.object({
            revokedBefore: z.string().describe('ISO-8601: links minted at or before this time are refused.'),
          }),
        ),
      },
    },
    handler: async (req) => {
      const { tenantId } = req.params;
      // A portal session cannot end the others': only the keys that mint links can.
      if (req.principal.kind === 'tenant' && req.principal.portal === true) throw new NotFoundError('not found');
      await deps.tenants.require(tenantId);
      return { revokedBefore: await deps.portalSessions.revokeAll(tenantId, MAX_TTL_SECONDS) };
    },
  });

  app.route({
    method: 'DELETE',
    url: '/v1/tenants/:tenantId/portal-sessions/current',
    config: { access: 'tenant' },
    schema: {
      operationId: 'endPortalSession',
      summary: "End the portal session making this request (the portal's Sign out)",
      tags,
      params: tenantParams,
      response: { 204: noContent('Ended') },
    },
    handler: async (req, reply) => {
      if (req.principal.kind !== 'tenant' || req.principal.portal !== true) {
        throw new NotFoundError('no portal session signs this request');
      }
      await deps.portalSessions.end(bearerToken(req.headers.authorization) ?? '');
      return reply.code(204).send();
    },
  });
}
