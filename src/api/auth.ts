import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { NotFoundError, UnauthorizedError } from '../domain/errors';
import type { ApiKeyId, TenantId } from '../domain/ids';
import { parseTenantId } from '../domain/ids';

/** Who is calling: the operator with the admin token, or a tenant with one of its API keys. */
export type Principal =
  | { readonly kind: 'admin' }
  | {
      readonly kind: 'tenant';
      readonly tenantId: TenantId;
      readonly keyId: ApiKeyId;
      /** Signed in through a portal session link (short-lived), not with an API key. */
      readonly portal?: true;
    };

/**
 * Who may call a route: the admin token only, or also a tenant key (which then only sees its own tenant).
 * Routes outside `/v1` (health, OpenAPI, docs) are public and carry no access level.
 */
export type Access = 'admin' | 'tenant' | 'public';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every authenticated route before anything reads the body. */
    principal: Principal;
  }
  interface FastifyContextConfig {
    access?: Access;
  }
}

export interface AuthOptions {
  readonly adminToken: string;
  /** Resolves a tenant API key to its tenant, or undefined. */
  readonly resolveApiKey: (key: string) => Promise<{ tenantId: TenantId; keyId: ApiKeyId; portal?: true } | undefined>;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * The token of an `Authorization: Bearer <token>` header, or undefined. RFC 9110 §11.1: the scheme is
 * case-insensitive (`bearer`, `BEARER`), and §11.4 allows one or more spaces.
 */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer +(\S+)$/i.exec(header ?? '')?.[1];
}

/**
 * The `onRequest` hook of the authenticated routes: resolves the bearer token to a {@link Principal} and applies
 * the route's access level before the body is read. A tenant key may only touch its own tenant: any other tenant
 * id, and every admin-only route, answers 404 (never 403), so a key cannot probe which tenants or routes exist.
 */
export function authenticate(options: AuthOptions): onRequestAsyncHookHandler {
  const adminDigest = digest(options.adminToken);

  async function principalOf(header: string | undefined): Promise<Principal> {
    const token = bearerToken(header);
    if (!token) throw new UnauthorizedError('missing "Authorization: Bearer <token>" header');
    // Compare digests so the comparison is constant-time regardless of the token's length.
    if (timingSafeEqual(digest(token), adminDigest)) return { kind: 'admin' };
    const key = await options.resolveApiKey(token);
    if (key) return { kind: 'tenant', ...key };
    throw new UnauthorizedError('invalid token');
  }

  return async function authenticateRequest(request: FastifyRequest) {
    const principal = await principalOf(request.headers.authorization);
    request.principal = principal;
    if (request.routeOptions.config.access === 'admin' && principal.kind !== 'admin') {
      throw new NotFoundError('not found');
    }
    const tenantId = (request.params as { tenantId?: string }).tenantId;
    if (tenantId === undefined) return;
    parseTenantId(tenantId, 'tenantId');
    if (principal.kind === 'tenant' && principal.tenantId !== tenantId) {
      throw new NotFoundError(`tenant ${tenantId} not found`);
    }
  };
}
