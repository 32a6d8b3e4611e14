import { z } from 'zod';
import type { ApiDependencies, ApiInstance } from '../api-context';
import { answer } from '../response-schemas';
import { tenantParams } from '../schemas';

const tags = ['Signing keys'];

/** How long receivers and caches may keep a JWKS: rotation keeps the old key for far longer (the grace period). */
const JWKS_MAX_AGE_SECONDS = 300;

const jwkResponse = z
  .object({
    kty: z.literal('OKP'),
    crv: z.literal('Ed25519'),
    x: z.string().describe('The public key: base64url of its 32 bytes (RFC 8037).'),
    kid: z.string().describe('Key id: the RFC 7638 thumbprint of the key, as sent in `webhook-signature-kid`.'),
    use: z.literal('sig'),
    alg: z.literal('EdDSA'),
  })
  .meta({ id: 'Ed25519Jwk' });

const signingKeyResponse = z
  .object({
    kid: z.string(),
    publicKey: z.string().describe('The Standard Webhooks form of the public key: `whpk_` + base64.'),
    jwk: jwkResponse,
    createdAt: z.string(),
    expiresAt: z.string().optional().describe('Set on a rotated-out key: it signs, and stays in the JWKS, until then.'),
  })
  .meta({ id: 'SigningKey' });

const jwksResponse = z
  .object({ keys: z.array(jwkResponse).describe('Keys valid now, newest first; empty for a tenant without keys.') })
  .meta({ id: 'Jwks' });

/**
 * A tenant's ed25519 signing keys for `v1a` signatures: list and rotate (authenticated). The private keys never
 * leave the store except to sign.
 */
export function signingKeyRoutes(app: ApiInstance, deps: ApiDependencies): void {
  app.route({
    method: 'GET',
    url: '/v1/tenants/:tenantId/signing-keys',
    config: { access: 'tenant' },
    schema: {
      operationId: 'listSigningKeys',
      summary: "The tenant's ed25519 public keys for v1a signatures, newest first",
      tags,
      params: tenantParams,
      response: { 200: answer('The keys valid now', z.object({ keys: z.array(signingKeyResponse) })) },
    },
    handler: async (req) => ({ keys: await deps.signingKeys.publicKeys(req.params.tenantId) }),
  });

  app.route({
    method: 'POST',
    url: '/v1/tenants/:tenantId/signing-keys/rotate',
    config: { access: 'tenant', errors: [409], optionalBody: true },
    schema: {
      operationId: 'rotateSigningKey',
      summary: 'Create a new ed25519 key pair; the previous keys keep signing for WSS_SECRET_GRACE_MS',
      tags,
      params: tenantParams,
      body: z.object({}).strict(),
      response: {
        200: answer(
          'Rotated (or created, for a tenant without a key); the private key is never shown',
          signingKeyResponse.extend({
            previousKeyValidUntil: z
              .string()
              .describe('ISO-8601 time until which requests carry the previous keys\u2019 signatures too.'),
          }),
        ),
      },
    },
    handler: async (req) => {
      const { tenantId } = req.params;
      if (req.principal.kind === 'admin') await deps.tenants.ensure(tenantId);
      const { current, validUntil } = await deps.signingKeys.rotate(tenantId, deps.secretGraceMs);
      return { ...current, previousKeyValidUntil: validUntil };
    },
  });
}

/**
 * The public JWKS of a tenant, without authentication: receivers fetch it to verify `v1a` signatures. A tenant
 * without keys, and a tenant that does not exist, get the same empty set, so the route tells nobody which tenants
 * exist, and an anonymous request never creates a key.
 */
export function jwksRoutes(app: ApiInstance, deps: Pick<ApiDependencies, 'signingKeys'>): void {
  app.route({
    method: 'GET',
    url: '/v1/tenants/:tenantId/jwks.json',
    exposeHeadRoute: true,
    config: { access: 'public' },
    schema: {
      operationId: 'getTenantJwks',
      summary: "The tenant's public keys as a JWKS (RFC 7517), for verifying v1a signatures; no authentication",
      tags,
      params: tenantParams,
      response: { 200: answer('The JWK set', jwksResponse) },
    },
    handler: async (req, reply) => {
      const keys = await deps.signingKeys.publicKeys(req.params.tenantId);
      // Served as application/json, as documented (RFC 7517's application/jwk-set+json is accepted by few clients
      // that do not also accept JSON).
      return reply
        .header('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`)
        .send({ keys: keys.map((k) => k.jwk) });
    },
  });
}
