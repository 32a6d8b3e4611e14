import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { NotFoundError, UnauthorizedError, WssError } from '../domain/errors';
import type { ApiKeyId, TenantId } from '../domain/ids';
import { parseTenantId } from '../domain/ids';
import type { Logger } from '../infra/logger';
import type { ApiRequest, ApiResponse } from './http-kit';
import { Router, decodeBody, errorBody, parseJson, readBody, sendJson, sendText } from './http-kit';

/** Who is calling: the operator with the admin token, or a tenant with one of its API keys. */
export type Principal =
  { readonly kind: 'admin' } | { readonly kind: 'tenant'; readonly tenantId: TenantId; readonly keyId: ApiKeyId };

export interface AuthenticatedRequest extends ApiRequest {
  readonly principal: Principal;
}

export interface ApiServerOptions {
  readonly adminToken: string;
  /** Resolves a tenant API key to its tenant, or undefined. */
  readonly resolveApiKey: (key: string) => Promise<{ tenantId: TenantId; keyId: ApiKeyId } | undefined>;
  readonly routes: (router: AuthedRouter) => void;
  /** Unauthenticated routes such as /healthz and /openapi.json. */
  readonly publicRoutes: (router: Router) => void;
  readonly log: Logger;
  /** Largest accepted request body. Default 1 MiB. */
  readonly maxBodyBytes?: number;
}

export type AuthedHandler = (req: AuthenticatedRequest) => Promise<ApiResponse>;

/** Route registration for authenticated routes. */
export interface AuthedRouter {
  add(method: string, path: string, handler: AuthedHandler): AuthedRouter;
}

/**
 * A tenant principal may only touch its own tenant. Any other tenant id is 404, never 403, so a key cannot probe
 * which tenants exist.
 */
export function authorizeTenant(principal: Principal, tenantId: TenantId): void {
  if (principal.kind === 'tenant' && principal.tenantId !== tenantId) {
    throw new NotFoundError(`tenant ${tenantId} not found`);
  }
}

/** The request's `:tenantId`, validated and visible to the caller (else 404, see {@link authorizeTenant}). */
export function tenantOf(req: AuthenticatedRequest): TenantId {
  const tenantId = parseTenantId(req.params['tenantId'] ?? '');
  authorizeTenant(req.principal, tenantId);
  return tenantId;
}

export function requireAdmin(principal: Principal): void {
  if (principal.kind !== 'admin') throw new NotFoundError('not found');
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Builds the management API's HTTP server. Errors become `{"error": {"code", "message"}}` with a 4xx/5xx. */
export function createApiServer(options: ApiServerOptions): Server {
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const adminDigest = digest(options.adminToken);
  const publicRouter = new Router();
  options.publicRoutes(publicRouter);
  const authedRouter = new Router();
  const authed: AuthedRouter = {
    add(method, path, handler) {
      // handle() attaches the principal to every request it routes here (see below).
      authedRouter.add(method, path, (req) => handler(req as AuthenticatedRequest));
      return authed;
    },
  };
  options.routes(authed);

  async function authenticate(req: IncomingMessage): Promise<Principal> {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer (\S+)$/.exec(header);
    if (!match?.[1]) throw new UnauthorizedError('missing "Authorization: Bearer <token>" header');
    const token = match[1];
    // Compare digests so the comparison is constant-time regardless of the token's length.
    if (timingSafeEqual(digest(token), adminDigest)) return { kind: 'admin' };
    const key = await options.resolveApiKey(token);
    if (key) return { kind: 'tenant', ...key };
    throw new UnauthorizedError('invalid token');
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'http://api.invalid');
    const method = req.method ?? 'GET';
    let status = 500;
    try {
      let rawBody: Promise<Buffer> | undefined;
      const body = (): Promise<Buffer> => (rawBody ??= readBody(req, maxBodyBytes));
      const apiReq: ApiRequest = {
        method,
        path: url.pathname,
        params: {},
        query: url.searchParams,
        headers: req.headers,
        json: async () => parseJson(await body()),
        text: async () => decodeBody(await body()),
      };
      const publicMatch = publicRouter.match(method, url.pathname);
      const isPublic = publicMatch !== undefined && publicMatch !== 'method_not_allowed';
      // A path that only public routes know, with the wrong method, is still a 405 rather than a 404.
      const match = isPublic ? publicMatch : (authedRouter.match(method, url.pathname) ?? publicMatch);
      if (match === undefined || match === 'method_not_allowed') {
        status = match === undefined ? 404 : 405;
        sendJson(res, status, {
          error: {
            code: status === 404 ? 'route_not_found' : 'method_not_allowed',
            message: `${method} ${url.pathname} is not a route`,
          },
        });
        return;
      }
      const routed: ApiRequest = { ...apiReq, params: match.params };
      const authenticated: ApiRequest = isPublic
        ? routed
        : ({ ...routed, principal: await authenticate(req) } as AuthenticatedRequest);
      const result = await match.handler(authenticated);
      status = result.status;
      if (result.contentType !== undefined && typeof result.body === 'string')
        sendText(res, status, result.contentType, result.body);
      else sendJson(res, result.status, result.body);
    } catch (err) {
      if (err instanceof WssError) {
        status = err.httpStatus;
        sendJson(res, status, errorBody(err));
      } else {
        status = 500;
        options.log.error(
          { err: err instanceof Error ? err.message : String(err), method, path: url.pathname },
          'api request failed',
        );
        sendJson(res, 500, { error: { code: 'internal_error', message: 'internal error' } });
      }
    } finally {
      options.log.debug({ method, path: url.pathname, status, durationMs: Date.now() - started }, 'api request');
    }
  }

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  // Bound slow clients: a management API has no reason to hold a connection open for long.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  return server;
}
