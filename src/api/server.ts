import type { Duplex } from 'node:stream';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { errorCodes } from 'fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { Logger } from '../infra/logger';
import { errorLogFields } from '../infra/logger';
import type { ApiDependencies, ApiInstance } from './api-context';
import { authenticate } from './auth';
import { toErrorAnswer } from './errors';
import { swaggerOptions } from './openapi';
import { decodeBody, parseJson, validate } from './request-body';
import { ValidationError } from '../domain/errors';
import { apiKeyRoutes } from './routes/api-keys';
import { deadLetterRoutes } from './routes/dead-letters';
import { deliveryRoutes } from './routes/deliveries';
import { endpointRoutes } from './routes/endpoints';
import { eventRoutes } from './routes/events';
import { orderingRoutes } from './routes/ordering';
import { portalSessionRoutes } from './routes/portal-sessions';
import { defaultPortalDir, portalPlugin } from './portal';
import { PORTAL_TOKEN_PREFIX } from '../store/portal-session-store';
import { serviceRoutes } from './routes/service';
import { jwksRoutes, signingKeyRoutes } from './routes/signing-keys';
import { tenantRoutes } from './routes/tenants';

export type { ApiDependencies, ApiInstance };

export interface ApiServerOptions {
  readonly adminToken: string;
  readonly deps: ApiDependencies;
  readonly log: Logger;
  /** Largest accepted request body. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Built tenant portal assets served under `/portal/`. Default: `portal/dist` of this checkout, when built. */
  readonly portalDir?: string;
}

/** `application/json` or `application/<x>+json`, in UTF-8 when a charset is named. */
function isJsonContentType(header: string): boolean {
  const [type = '', ...params] = header.toLowerCase().split(';');
  if (!/^application\/(?:[a-z0-9.+-]+\+)?json$/.test(type.trim())) return false;
  const charset = params.map((p) => p.trim()).find((p) => p.startsWith('charset='));
  return charset === undefined || /^charset="?utf-8"?$/.test(charset);
}

const pathOf = (request: FastifyRequest): string => request.url.split('?')[0] ?? '/';
/**
 * Answers a request Node's HTTP parser refused (headers over its limit, malformed HTTP) in the API's error shape:
 * `431 headers_too_large` or `400 validation_failed`, then closes the connection. A connection reset needs no answer.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const code: 'headers_too_large' | 'validation_failed' =
    err.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : 'validation_failed';
  const [status, reason, message] =
    code === 'headers_too_large'
      ? [431, 'Request Header Fields Too Large', 'the request headers or URL are too large']
      : [400, 'Bad Request', 'the request is not valid HTTP'];
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
  );
}

const notARoute = (request: FastifyRequest, code: 'route_not_found' | 'method_not_allowed') => ({
  error: { code, message: `${request.method} ${pathOf(request)} is not a route` },
});

/**
 * Builds the management API. Every error becomes `{"error": {"code", "message", "field"?}}` with its status (see
 * `errors.ts`); an unknown path is 404 `route_not_found` and a known path with another method 405
 * `method_not_allowed`. Call `ready()` (or `listen`) before use.
 */
export function createApiServer(options: ApiServerOptions): ApiInstance {
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const { deps, log } = options;
  const sendError = (err: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    const answer = toErrorAnswer(err, maxBodyBytes);
    if (answer.internal) {
      log.error({ ...errorLogFields(err), method: request.method, path: pathOf(request) }, 'api request failed');
    }
    if (answer.retryAfterSeconds !== undefined) void reply.header('retry-after', String(answer.retryAfterSeconds));
    void reply.code(answer.status).send(answer.body);
  };

  const app = Fastify({
    logger: false,
    bodyLimit: maxBodyBytes,
    // Bound slow clients: a management API has no reason to hold a connection open for long.
    requestTimeout: 30_000,
    // OPTIONS, and HEAD on the /v1 routes, are not routes of this API: they answer 405 like any other method a
    // path lacks. The public GET routes expose HEAD themselves (see service.ts).
    exposeHeadRoutes: false,
    // Requests on connections that are open when the API closes are still answered, as before (not a bare 503).
    return503OnClosing: false,
    // Longer than any valid id, so that an over-long one is refused by its pattern, with its name.
    routerOptions: { maxParamLength: 256 },
    // A malformed percent-escape in the path (or an over-long parameter) is the caller's mistake: 400.
    frameworkErrors: (err, request, reply) => sendError(err, request, reply),
    // Requests Node's HTTP parser refuses before any route: still the API's error shape and codes.
    clientErrorHandler: answerClientError,
  }).withTypeProvider<ZodTypeProvider>();
  app.server.headersTimeout = 10_000;

  // Drain: from close() on, every answer ends its connection. The listener is closed and idle connections are
  // dropped at once, but a keep-alive connection whose request was still open would otherwise stay open after its
  // answer and hold the close (and the process) until the keep-alive timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) void reply.header('connection', 'close');
    return payload;
  });

  // Requests are validated with the zod schemas the routes declare, reporting every issue with its field.
  app.setValidatorCompiler<z.ZodType>(({ schema, httpPart }) => (data) => {
    try {
      return { value: validate(schema, data) };
    } catch (err) {
      // Fastify hands a missing body over as null.
      if (httpPart === 'body' && data === null)
        return { error: new ValidationError('request body must be a JSON object') };
      return { error: err as Error };
    }
  });
  // An action route's body is optional: an empty POST means "all defaults".
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined && request.routeOptions.config.optionalBody) request.body = {};
  });
  // Answers are sent as built; their conformance to the documented schemas is tested, not re-checked per request.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler((err, request, reply) => sendError(err, request, reply));
  app.setNotFoundHandler(async (request, reply) => {
    if (request.url.startsWith('/v1/')) void reply.header('cache-control', 'no-store');
    return reply.code(404).send(notARoute(request, 'route_not_found'));
  });

  // Request bodies: strict UTF-8, bounded depth, strict JSON, no `__proto__` (see request-body.ts). A body with no
  // Content-Type is read as JSON, as before; any other type is refused before the body is read.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    try {
      if (request.is404 || body.length === 0) done(null, undefined);
      else done(null, request.routeOptions.config.rawBody ? decodeBody(body) : parseJson(body));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    log.debug(
      { method: request.method, path: pathOf(request), status: reply.statusCode, durationMs: reply.elapsedTime },
      'api request',
    );
  });

  // Every route's methods, for the 405 answers registered last.
  const methodsByPath = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const methods = methodsByPath.get(route.url) ?? new Set<string>();
    for (const method of ([] as string[]).concat(route.method)) methods.add(method);
    methodsByPath.set(route.url, methods);
  });

  void app.register(fastifySwagger, swaggerOptions());
  // Swagger UI ships its assets with the package: /docs works without internet access.
  void app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  void app.register(async (service) => serviceRoutes(service, deps));
  // The tenant portal: static assets with their own security headers; it calls /v1 like any other client.
  void app.register(portalPlugin, { root: options.portalDir ?? defaultPortalDir() });
  // Public, outside the authenticated /v1 scope: receivers fetch a tenant's JWKS without a token.
  void app.register(async (jwks) => jwksRoutes(jwks, deps));
  void app.register(async (v1) => {
    v1.decorateRequest('principal', null as never);
    // Every /v1 answer is one principal's view, and some carry secrets shown once (endpoint secrets, API keys,
    // portal links): no browser or proxy may keep a copy (RFC 9111 §5.2.2.5). Set first, so errors carry it too.
    v1.addHook('onRequest', async (_request, reply) => {
      void reply.header('cache-control', 'no-store');
    });
    v1.addHook(
      'onRequest',
      authenticate({
        adminToken: options.adminToken,
        resolveApiKey: (k) =>
          k.startsWith(PORTAL_TOKEN_PREFIX)
            ? deps.portalSessions.resolve(k, async (tenantId, origin) => {
                // A session ends with the key that minted it and with its tenant (not a new one under that id).
                const tenant = await deps.tenants.get(tenantId);
                if (tenant?.createdAt !== origin.tenantCreatedAt) return false;
                if (origin.mintedBy === undefined) return true;
                return deps.apiKeys.exists(tenantId, origin.mintedBy);
              })
            : deps.apiKeys.resolve(k),
      }),
    );
    v1.addHook('preParsing', async (request) => {
      const { 'content-type': type, 'content-length': length, 'transfer-encoding': chunked } = request.headers;
      const hasBody = (length !== undefined && length !== '0') || chunked !== undefined;
      if (type !== undefined && hasBody && !isJsonContentType(type)) {
        throw new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE();
      }
    });
    tenantRoutes(v1, deps);
    apiKeyRoutes(v1, deps);
    portalSessionRoutes(v1, deps);
    endpointRoutes(v1, deps);
    eventRoutes(v1, deps);
    orderingRoutes(v1, deps);
    deliveryRoutes(v1, deps);
    deadLetterRoutes(v1, deps);
    signingKeyRoutes(v1, deps);
  });
  void app.register(async (other) => {
    // The body of a request to a method a path lacks is never read.
    other.removeAllContentTypeParsers();
    other.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    for (const [url, methods] of [...methodsByPath].map(([u, m]) => [u, new Set(m)] as const)) {
      const allow = [...methods].join(', ');
      other.route({
        method: app.supportedMethods.filter((m) => !methods.has(m)),
        url,
        schema: { hide: true },
        handler: async (request, reply) => {
          if (url.startsWith('/v1/')) void reply.header('cache-control', 'no-store');
          return reply.code(405).header('allow', allow).send(notARoute(request, 'method_not_allowed'));
        },
      });
    }
  });
  return app;
}
