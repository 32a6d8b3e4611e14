import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RouteOptions } from 'fastify';
import { z } from 'zod';
import { API_ERROR_CODES } from '../../src/api/errors';
import { createEndpointSchema, updateEndpointSchema } from '../../src/api/schemas';
import type { ApiInstance } from '../../src/api/server';
import { createApiServer } from '../../src/api/server';

/**
 * The OpenAPI document is generated from the routes as registered. These tests check what the generator cannot
 * guarantee by itself: every route is in it with its access, bodies and errors, and it is a valid, closed document.
 */

/** Dependencies that are never called: building the routes and the document needs none. */
const unused: any = new Proxy({}, { get: () => 1 });

describe('OpenAPI document', () => {
  let app: ApiInstance;
  let document: any;
  const routes: RouteOptions[] = [];
  /** The HEAD routes Fastify derives from a GET route; OpenAPI leaves them implicit (RFC 9110: HEAD is GET's head). */
  const heads: RouteOptions[] = [];

  before(async () => {
    app = createApiServer({ adminToken: 'a'.repeat(32), deps: unused, log: {} as any });
    app.addHook('onRoute', (route) => {
      if (route.schema?.hide) return;
      (route.method === 'HEAD' ? heads : routes).push(route);
    });
    await app.ready();
    document = app.swagger();
  });
  after(() => app.close());

  const operation = (route: RouteOptions) =>
    document.paths[route.url.replace(/:([A-Za-z]+)/g, '{$1}')]?.[String(route.method).toLowerCase()];

  it('is an OpenAPI 3.1 document with info, a bearer scheme and JSON-serialisable content', () => {
    assert.equal(document.openapi, '3.1.0');
    assert.equal(typeof document.info.title, 'string');
    assert.equal(typeof document.info.version, 'string');
    assert.deepEqual(document.components.securitySchemes.bearerAuth.type, 'http');
    assert.deepEqual(document.components.securitySchemes.bearerAuth.scheme, 'bearer');
    assert.deepEqual(document.security, [{ bearerAuth: [] }]);
    assert.deepEqual(JSON.parse(JSON.stringify(document)), document);
    for (const path of Object.keys(document.paths)) assert.match(path, /^\/[A-Za-z0-9/{}._-]*$/, path);
  });

  it('documents every route once, with a unique operationId, a summary, a tag and a 2xx answer', () => {
    assert.ok(routes.length >= 20, `only ${routes.length} routes`);
    const documented = Object.values<Record<string, any>>(document.paths).flatMap((methods) => Object.values(methods));
    assert.equal(documented.length, routes.length, 'every documented operation is a route and vice versa');
    const ids = new Set<string>();
    for (const route of routes) {
      const op = operation(route);
      assert.ok(op, `${route.method} ${route.url} is not documented`);
      assert.match(op.operationId, /^[a-z][A-Za-z]+$/);
      assert.ok(!ids.has(op.operationId), `duplicate operationId ${op.operationId}`);
      ids.add(op.operationId);
      assert.ok(op.summary, `${op.operationId} has no summary`);
      assert.equal(op.tags?.length, 1, op.operationId);
      assert.ok(
        Object.keys(op.responses).some((s) => /^2\d\d$/.test(s)),
        `${op.operationId} has no 2xx`,
      );
    }
  });

  it('answers HEAD on exactly the public GET routes', () => {
    assert.deepEqual(
      heads.map((route) => route.url).sort(),
      routes
        .filter((route) => route.method === 'GET' && route.config?.access === 'public')
        .map((route) => route.url)
        .sort(),
    );
    assert.ok(heads.some((route) => route.url === '/healthz'));
  });

  it('marks exactly the public routes as needing no token, and gives every other one a 401 and a 404', () => {
    for (const route of routes) {
      const op = operation(route);
      const isPublic = route.config?.access === 'public';
      assert.equal(op.security?.length === 0, isPublic, `${op.operationId}: public iff public`);
      // The one public /v1 route: a tenant's JWKS, which receivers fetch without a token to verify v1a signatures.
      const publicV1 = route.url === '/v1/tenants/:tenantId/jwks.json';
      assert.equal(route.url.startsWith('/v1/') && !publicV1, !isPublic, `${op.operationId}: /v1 routes need a token`);
      if (isPublic) continue;
      for (const status of ['401', '404']) {
        assert.equal(op.responses[status]?.content['application/json'].schema.$ref, '#/components/schemas/Error');
      }
    }
  });

  it('documents a request body exactly for the routes that declare one, optional where an empty POST is fine', () => {
    for (const route of routes) {
      const op = operation(route);
      assert.equal(op.requestBody !== undefined, route.schema?.body !== undefined, op.operationId);
      if (!op.requestBody) continue;
      assert.deepEqual(Object.keys(op.requestBody.content), ['application/json'], op.operationId);
      assert.equal(op.requestBody.required, !route.config?.optionalBody, op.operationId);
      for (const status of ['400', '413', '415']) assert.ok(op.responses[status], `${op.operationId} ${status}`);
    }
    const optional = routes.filter((r) => r.config?.optionalBody).map((r) => operation(r).operationId);
    assert.deepEqual(optional.sort(), [
      'createApiKey',
      'createPortalSession',
      'enableEndpoint',
      'rotateEndpointSecret',
      'rotateSigningKey',
    ]);
  });

  it('declares every path parameter with its pattern', () => {
    for (const [path, methods] of Object.entries<Record<string, any>>(document.paths)) {
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      for (const op of Object.values(methods)) {
        const declared = (op.parameters ?? []).filter((p: any) => p.in === 'path');
        assert.deepEqual(declared.map((p: any) => p.name).sort(), names, path);
        for (const p of declared) {
          assert.equal(p.required, true);
          assert.ok(p.schema.pattern, `${path} ${p.name} has no pattern`);
          assert.ok(p.description, `${path} ${p.name} has no description`);
        }
      }
    }
  });

  it('resolves every $ref to a component schema and keeps no component nothing refers to', () => {
    const text = JSON.stringify(document.paths);
    const refs = [...JSON.stringify(document).matchAll(/"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.length > 20);
    for (const name of refs) assert.ok(document.components.schemas[name], `dangling ref ${name}`);
    for (const name of Object.keys(document.components.schemas)) {
      assert.ok(refs.includes(name), `component ${name} is not used`);
    }
    assert.ok(text.includes('"#/components/schemas/Endpoint"'));
  });

  it('generates request schemas from the zod schemas the routes validate with', () => {
    const body = (operationId: string) => {
      const route = routes.find((r) => operation(r).operationId === operationId)!;
      return operation(route).requestBody.content['application/json'].schema;
    };
    const jsonSchema = (schema: z.ZodType) => {
      const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as any;
      return rest;
    };
    assert.deepEqual(body('createEndpoint'), jsonSchema(createEndpointSchema));
    assert.deepEqual(body('updateEndpoint'), jsonSchema(updateEndpointSchema));
    assert.deepEqual([...body('createEndpoint').required].sort(), ['eventTypes', 'url']);
    assert.equal(body('createEndpoint').additionalProperties, false);
    assert.deepEqual(body('updateEndpoint').properties.description.anyOf[1], { type: 'null' });
  });

  it('describes the error body with every documented error code, and each error answer with its codes', () => {
    const error = document.components.schemas.Error;
    assert.deepEqual(error.required, ['error']);
    assert.deepEqual([...error.properties.error.required].sort(), ['code', 'message']);
    assert.deepEqual(Object.keys(error.properties.error.properties).sort(), ['code', 'details', 'field', 'message']);
    assert.deepEqual([...error.properties.error.properties.code.enum].sort(), Object.keys(API_ERROR_CODES).sort());
    for (const [code, [status]] of Object.entries(API_ERROR_CODES)) {
      assert.ok(document.info.description.includes(`\`${code}\` (${status})`), code);
    }
    for (const route of routes) {
      for (const [status, answer] of Object.entries<any>(operation(route).responses)) {
        if (Number(status) < 400 || status === '503') continue;
        const codes = Object.entries(API_ERROR_CODES).filter(([, [s]]) => String(s) === status);
        assert.ok(codes.length > 0, `${status} has no documented code`);
        for (const [code] of codes) assert.ok(answer.description.includes(code), `${status}: ${code}`);
      }
    }
  });

  it('serves the document at /openapi.json and Swagger UI at /docs, without a token', async () => {
    const json = await app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(json.statusCode, 200);
    assert.deepEqual(json.json(), document);
    const page = await app.inject({ method: 'GET', url: '/docs' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    const initializer = await app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    assert.equal(initializer.statusCode, 200);
    assert.deepEqual((await app.inject({ method: 'GET', url: '/docs/json' })).json(), document);
  });
});
