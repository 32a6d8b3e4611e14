import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { registerDeliveryRoutes } from '../../src/api/delivery-routes';
import type { Router } from '../../src/api/http-kit';
import {
  API_ERROR_CODES,
  API_OPERATIONS,
  buildOpenApiDocument,
  registerDocsRoutes,
  renderDocsHtml,
  toOpenApiPath,
} from '../../src/api/openapi';
import { registerPublicRoutes, registerRoutes } from '../../src/api/routes';
import type { RouteDependencies } from '../../src/api/routes';
import { createEndpointSchema, updateEndpointSchema } from '../../src/api/schemas';
import type { AuthedHandler, AuthedRouter } from '../../src/api/server';

interface RecordedRoute {
  method: string;
  path: string;
  handler: AuthedHandler;
  isPublic: boolean;
}

/** Every dependency method resolves to a plausible record, so a handler runs as far as its own logic goes. */
function anythingDeps(): any {
  const record = {
    id: 'ep_1',
    tenantId: 't1',
    url: 'https://example.com/',
    eventTypes: ['*'],
    enabled: true,
    signatureScheme: 'wss',
    secrets: [],
  };
  const fn = async () => record;
  return new Proxy(
    {},
    {
      get: (_t, prop) =>
        prop === 'maxEventBytes' || prop === 'secretGraceMs' ? 1000 : new Proxy(fn, { get: () => fn }),
    },
  );
}

function recordRoutes(): RecordedRoute[] {
  const routes: RecordedRoute[] = [];
  const authed: AuthedRouter = {
    add(method, path, handler) {
      routes.push({ method, path, handler, isPublic: false });
      return authed;
    },
  };
  const publicRouter = {
    add(method: string, path: string, handler: AuthedHandler) {
      routes.push({ method, path, handler, isPublic: true });
      return publicRouter;
    },
  } as unknown as Router;
  const deps = anythingDeps() as RouteDependencies;
  registerPublicRoutes(publicRouter, deps);
  registerRoutes(authed, deps);
  registerDeliveryRoutes(authed, anythingDeps());
  return routes;
}

const document = buildOpenApiDocument() as any;

describe('OpenAPI document', () => {
  it('is an OpenAPI 3.1 document with info, paths, a bearer scheme and JSON-serialisable content', () => {
    assert.equal(document.openapi, '3.1.0');
    assert.equal(typeof document.info.title, 'string');
    assert.equal(typeof document.info.version, 'string');
    assert.ok(Object.keys(document.paths).length > 10);
    assert.deepEqual(document.components.securitySchemes.bearerAuth, {
      type: 'http',
      scheme: 'bearer',
      description: document.components.securitySchemes.bearerAuth.description,
    });
    assert.deepEqual(document.security, [{ bearerAuth: [] }]);
    assert.deepEqual(JSON.parse(JSON.stringify(document)), document);
    for (const path of Object.keys(document.paths))
      assert.match(path, /^\/[A-Za-z0-9/{}._-]*$/, `path ${path} uses {param} syntax`);
  });

  it('documents every route the server registers, with the same method and access', () => {
    const routes = recordRoutes();
    assert.ok(routes.length >= 20, `recorded only ${routes.length} routes`);
    for (const route of routes) {
      const op = document.paths[toOpenApiPath(route.path)]?.[route.method.toLowerCase()];
      assert.ok(op, `${route.method} ${route.path} is registered but not in the OpenAPI document`);
      assert.equal(
        op.security?.length === 0,
        route.isPublic,
        `${route.method} ${route.path}: public in the server iff public in the docs`,
      );
    }
  });

  it('documents no route the server does not register', () => {
    const registered = new Set(recordRoutes().map((r) => `${r.method} ${toOpenApiPath(r.path)}`));
    for (const [path, methods] of Object.entries<Record<string, unknown>>(document.paths)) {
      for (const method of Object.keys(methods)) {
        assert.ok(
          registered.has(`${method.toUpperCase()} ${path}`),
          `${method.toUpperCase()} ${path} is documented but not registered`,
        );
      }
    }
  });

  it('documents a request body exactly for the routes whose handler reads one', async () => {
    const readsBody = Symbol('reads body');
    for (const route of recordRoutes().filter((r) => !r.isPublic)) {
      let read = false;
      const req = {
        method: route.method,
        path: route.path,
        params: { tenantId: 't1', endpointId: 'ep_1', eventId: 'evt-1', keyId: 'key_1' },
        query: new URLSearchParams(),
        headers: { 'content-length': '2' },
        principal: { kind: 'admin' as const },
        json: async () => {
          read = true;
          throw readsBody;
        },
        text: async () => {
          read = true;
          throw readsBody;
        },
      };
      await route.handler(req).catch(() => undefined);
      const op = document.paths[toOpenApiPath(route.path)][route.method.toLowerCase()];
      assert.equal(
        op.requestBody !== undefined,
        read,
        `${route.method} ${route.path}: ${read ? 'reads a body the docs omit' : 'documents a body it never reads'}`,
      );
    }
  });

  it('declares every path parameter of every operation', () => {
    for (const [path, methods] of Object.entries<Record<string, any>>(document.paths)) {
      const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const op of Object.values(methods)) {
        const declared = (op.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => p.name);
        assert.deepEqual(declared, names, path);
      }
    }
  });

  it('resolves every $ref to a component schema', () => {
    const refs = JSON.stringify(document).match(/"\$ref":"[^"]+"/g) ?? [];
    assert.ok(refs.length > 20);
    for (const ref of refs) {
      const name = /#\/components\/schemas\/([^"]+)"/.exec(ref)?.[1];
      assert.ok(name && document.components.schemas[name], `dangling ${ref}`);
    }
  });

  it('generates request schemas from the zod schemas the routes validate with', () => {
    const { $schema: _a, ...create } = z.toJSONSchema(createEndpointSchema, {
      io: 'input',
      unrepresentable: 'any',
    }) as any;
    const { $schema: _b, ...update } = z.toJSONSchema(updateEndpointSchema, {
      io: 'input',
      unrepresentable: 'any',
    }) as any;
    assert.deepEqual(document.components.schemas.CreateEndpoint, create);
    assert.deepEqual(document.components.schemas.UpdateEndpoint, update);
    assert.deepEqual([...document.components.schemas.CreateEndpoint.required].sort(), ['eventTypes', 'url']);
    assert.equal(document.components.schemas.CreateEndpoint.additionalProperties, false);
    assert.deepEqual(document.components.schemas.UpdateEndpoint.properties.description.anyOf[1], { type: 'null' });
  });

  it('describes the error body with every stable error code', () => {
    const error = document.components.schemas.Error;
    assert.deepEqual(error.required, ['error']);
    assert.deepEqual([...error.properties.error.required].sort(), ['code', 'message']);
    assert.deepEqual(Object.keys(error.properties.error.properties).sort(), ['code', 'details', 'field', 'message']);
    assert.deepEqual([...error.properties.error.properties.code.enum].sort(), [
      'conflict',
      'destination_not_allowed',
      'internal_error',
      'method_not_allowed',
      'not_found',
      'payload_too_large',
      'route_not_found',
      'unauthorized',
      'validation_failed',
    ]);
    for (const code of Object.keys(API_ERROR_CODES)) assert.ok(document.info.description.includes(code), code);
  });

  it('gives every authenticated operation a 401 and every operation a success response', () => {
    for (const op of API_OPERATIONS) {
      const documented = document.paths[toOpenApiPath(op.path)][op.method.toLowerCase()];
      assert.ok(
        Object.keys(documented.responses).some((s) => /^2\d\d$/.test(s)),
        `${op.method} ${op.path} has no 2xx`,
      );
      if (op.access !== 'public') {
        assert.equal(
          documented.responses['401']?.content['application/json'].schema.$ref,
          '#/components/schemas/Error',
          `${op.method} ${op.path}`,
        );
      }
    }
  });

  it('renders a self-contained HTML page listing every operation and schema', () => {
    const html = renderDocsHtml(document);
    assert.match(html, /^<!doctype html>/);
    assert.doesNotMatch(html, /<script[^>]*src=|<link[^>]*href=|https?:\/\/(?!json-schema\.org)/i);
    for (const [path, methods] of Object.entries<Record<string, unknown>>(document.paths)) {
      for (const method of Object.keys(methods))
        assert.ok(html.includes(`${method.toUpperCase()}</span> <code>${path}</code>`), `${method} ${path}`);
    }
    for (const name of Object.keys(document.components.schemas)) assert.ok(html.includes(`id="schema-${name}"`), name);
  });

  it('serves the document and the page from registerDocsRoutes', async () => {
    const served = new Map<string, () => Promise<any>>();
    registerDocsRoutes({
      add: (method: string, path: string, handler: () => Promise<any>) => served.set(`${method} ${path}`, handler),
    } as unknown as Router);
    const json = await served.get('GET /openapi.json')!();
    assert.equal(json.status, 200);
    assert.deepEqual(json.body, document);
    const page = await served.get('GET /docs')!();
    assert.equal(page.status, 200);
    assert.match(page.contentType, /^text\/html/);
    assert.ok(page.body.includes('/v1/tenants/{tenantId}/endpoints'));
  });
});
