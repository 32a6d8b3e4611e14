import type { IncomingHttpHeaders } from 'node:http';
import type { RequestBuilder } from '../delivery/signed-request';
import type { Endpoint } from '../domain/endpoint';
import type { EventText } from '../domain/event';
import { compileFilter } from '../domain/filter';
import { compileTransform } from '../transform/transform';
import { dryRunDelivery, dryRunEventId } from './dry-run';
import { NotFoundError, PayloadTooLargeError, ValidationError } from '../domain/errors';
import type { EndpointId, TenantId } from '../domain/ids';
import { eventIdFromEntryId, parseApiKeyId, parseEndpointId, parseEventId, parseTenantId } from '../domain/ids';
import { utf8Length } from '../domain/stream-entry';
import type { DestinationPolicy } from '../infra/egress/destination-policy';
import { generateWssSecret, generateStandardWebhooksSecret, isStandardWebhooksSecret } from '../security/signature';
import type { EndpointStore } from '../store/endpoint-store';
import type { EventPublisher } from '../store/event-publisher';
import type { TenantStore } from '../store/tenant-store';
import type { ApiKeyStore } from '../store/api-key-store';
import { validate } from './http-kit';
import { parseEventBody } from './event-body';
import { registerDocsRoutes } from './openapi';
import type { Router } from './http-kit';
import {
  createApiKeySchema,
  createEndpointSchema,
  enableEndpointSchema,
  createTenantSchema,
  rotateSecretSchema,
  updateEndpointSchema,
} from './schemas';
import type { AuthedRouter, AuthenticatedRequest } from './server';
import { requireAdmin, tenantOf } from './server';

export interface RouteDependencies {
  readonly endpoints: EndpointStore;
  readonly tenants: TenantStore;
  readonly apiKeys: ApiKeyStore;
  readonly publisher: EventPublisher;
  /** Builds request bodies and headers exactly as deliveries do (for the dry run). */
  readonly requests: Pick<RequestBuilder, 'buildFromEnvelope'>;
  readonly destinations: Pick<DestinationPolicy, 'checkUrl'>;
  readonly maxEventBytes: number;
  /** Deepest nesting accepted in an event's `data` (WSS_MAX_EVENT_DEPTH). */
  readonly maxEventDepth: number;
  readonly secretGraceMs: number;
  /**
   * Dependency checks (`ok` or what is wrong; any other value answers 503) and notices: recent events an
   * operator should know of that do not make the service unhealthy, such as a recreated consumer group.
   */
  readonly health: () => Promise<{ checks: Record<string, 'ok' | string>; notices?: string[] }>;
  /** Replays an endpoint's dead letters since a time (re-enable with replay). */
  readonly replay?: (
    tenantId: TenantId,
    endpointId: EndpointId,
    sinceMs: number,
  ) => Promise<{ replayed: number; skipped: number }>;
  /** Stops a tenant's in-flight deliveries when the tenant is deleted. */
  readonly cancelTenantDeliveries?: (tenantId: TenantId) => Promise<number>;
}

const DEFAULT_PAGE = 50;
const MAX_PAGE = 200;

export function registerPublicRoutes(router: Router, deps: Pick<RouteDependencies, 'health'>): void {
  router.add('GET', '/healthz', async () => {
    const { checks, notices } = await deps.health();
    const healthy = Object.values(checks).every((v) => v === 'ok');
    return {
      status: healthy ? 200 : 503,
      body: { status: healthy ? 'ok' : 'degraded', checks, ...(notices?.length ? { notices } : {}) },
    };
  });
  registerDocsRoutes(router);
}

export function registerRoutes(router: AuthedRouter, deps: RouteDependencies): void {
  const tenantParam = (params: Readonly<Record<string, string>>): TenantId => parseTenantId(params['tenantId'] ?? '');

  // Tenants
  router.add('POST', '/v1/tenants', async (req) => {
    requireAdmin(req.principal);
    const body = validate(createTenantSchema, await req.json());
    const { id, ...input } = body;
    return { status: 201, body: await deps.tenants.create(parseTenantId(id, 'id'), input) };
  });
  router.add('GET', '/v1/tenants', async (req) => {
    if (req.principal.kind === 'tenant') {
      return { status: 200, body: { items: [await deps.tenants.require(req.principal.tenantId)] } };
    }
    return { status: 200, body: { items: await deps.tenants.list() } };
  });
  router.add('GET', '/v1/tenants/:tenantId', async (req) => {
    const tenantId = tenantOf(req);
    return { status: 200, body: await deps.tenants.require(tenantId) };
  });
  router.add('DELETE', '/v1/tenants/:tenantId', async (req) => {
    requireAdmin(req.principal);
    const tenantId = tenantParam(req.params);
    await deps.tenants.require(tenantId);
    // Endpoints go first: an in-flight delivery whose endpoint is gone is skipped at its next attempt.
    const endpoints = await deps.endpoints.deleteAll(tenantId);
    await deps.apiKeys.revokeAll(tenantId);
    const cancelled = (await deps.cancelTenantDeliveries?.(tenantId)) ?? 0;
    await deps.tenants.delete(tenantId);
    return { status: 200, body: { deleted: tenantId, endpoints, cancelledDeliveries: cancelled } };
  });

  // Tenant API keys: only the admin hands them out.
  router.add('POST', '/v1/tenants/:tenantId/api-keys', async (req) => {
    requireAdmin(req.principal);
    const tenantId = tenantParam(req.params);
    await deps.tenants.require(tenantId);
    const body = validate(createApiKeySchema, hasBody(req.headers) ? await req.json() : {});
    const created = await deps.apiKeys.create(tenantId, body.name);
    return { status: 201, body: { ...created.record, key: created.key } };
  });
  router.add('GET', '/v1/tenants/:tenantId/api-keys', async (req) => {
    requireAdmin(req.principal);
    const tenantId = tenantParam(req.params);
    await deps.tenants.require(tenantId);
    return { status: 200, body: { items: await deps.apiKeys.list(tenantId) } };
  });
  router.add('DELETE', '/v1/tenants/:tenantId/api-keys/:keyId', async (req) => {
    requireAdmin(req.principal);
    const tenantId = tenantParam(req.params);
    await deps.apiKeys.revoke(tenantId, parseApiKeyId(req.params['keyId'] ?? ''));
    return { status: 204 };
  });

  // Endpoints
  router.add('POST', '/v1/tenants/:tenantId/endpoints', async (req) => {
    const tenantId = tenantOf(req);
    const body = validate(createEndpointSchema, await req.json());
    validateProgrammableFields(body);
    await deps.destinations.checkUrl(body.url);
    const scheme = body.signatureScheme ?? 'wss';
    const secret = body.secret ?? (scheme === 'wss' ? generateWssSecret() : generateStandardWebhooksSecret());
    if (scheme !== 'wss' && !isStandardWebhooksSecret(secret)) {
      throw new ValidationError(`secret: must be a "whsec_" base64 secret for signatureScheme "${scheme}"`, 'secret');
    }
    // The admin may create a tenant's first endpoint directly; a tenant key implies the tenant exists.
    if (req.principal.kind === 'admin') await deps.tenants.ensure(tenantId);
    const { secret: _omit, ...input } = body;
    const created = await deps.endpoints.create(tenantId, input, secret);
    return { status: 201, body: { ...created.endpoint, secret: created.secret } };
  });
  router.add('GET', '/v1/tenants/:tenantId/endpoints', async (req) => {
    const tenantId = tenantOf(req);
    await deps.tenants.require(tenantId);
    const limit = parseLimit(req.query.get('limit'));
    const cursor = req.query.get('cursor') ?? undefined;
    const page = await deps.endpoints.list(tenantId, { limit, ...(cursor !== undefined ? { cursor } : {}) });
    return { status: 200, body: page };
  });
  router.add('GET', '/v1/tenants/:tenantId/endpoints/:endpointId', async (req) => {
    const { endpoint } = await loadEndpoint(req);
    return { status: 200, body: endpoint };
  });
  router.add('PATCH', '/v1/tenants/:tenantId/endpoints/:endpointId', async (req) => {
    const { tenantId, endpoint } = await loadEndpoint(req);
    const patch = validate(updateEndpointSchema, await req.json());
    validateProgrammableFields(patch);
    if (patch.url !== undefined) await deps.destinations.checkUrl(patch.url);
    const { description, filter, transform, ...rest } = patch;
    const updated = await deps.endpoints.update(tenantId, endpoint.id, {
      ...rest,
      ...(description !== undefined ? { description: description ?? undefined } : {}),
      ...(filter !== undefined ? { filter: filter ?? undefined } : {}),
      ...(transform !== undefined ? { transform: transform ?? undefined } : {}),
    });
    return { status: 200, body: updated };
  });
  router.add('DELETE', '/v1/tenants/:tenantId/endpoints/:endpointId', async (req) => {
    const { tenantId, endpoint } = await loadEndpoint(req);
    await deps.endpoints.delete(tenantId, endpoint.id);
    return { status: 204 };
  });
  router.add('POST', '/v1/tenants/:tenantId/endpoints/:endpointId/disable', async (req) => {
    const { tenantId, endpoint } = await loadEndpoint(req);
    return { status: 200, body: await deps.endpoints.setEnabled(tenantId, endpoint.id, false, 'manual') };
  });
  router.add('POST', '/v1/tenants/:tenantId/endpoints/:endpointId/enable', async (req) => {
    const { tenantId, endpoint } = await loadEndpoint(req);
    const body = validate(enableEndpointSchema, hasBody(req.headers) ? await req.json() : {});
    const enabled = await deps.endpoints.setEnabled(tenantId, endpoint.id, true);
    if (body.replayFailedSince === undefined || !deps.replay) return { status: 200, body: enabled };
    const replay = await deps.replay(tenantId, endpoint.id, Date.parse(body.replayFailedSince));
    return { status: 200, body: { ...enabled, replay } };
  });
  router.add('POST', '/v1/tenants/:tenantId/endpoints/:endpointId/secret/rotate', async (req) => {
    const { tenantId, endpoint } = await loadEndpoint(req);
    const raw = hasBody(req.headers) ? await req.json() : {};
    const body = validate(rotateSecretSchema, raw);
    const scheme = endpoint.signatureScheme;
    const secret = body.secret ?? (scheme === 'wss' ? generateWssSecret() : generateStandardWebhooksSecret());
    if (scheme !== 'wss' && !isStandardWebhooksSecret(secret)) {
      throw new ValidationError(`secret: must be a "whsec_" base64 secret for signatureScheme "${scheme}"`, 'secret');
    }
    await deps.endpoints.rotateSecret(tenantId, endpoint.id, secret, deps.secretGraceMs);
    const previousValidUntil = new Date(Date.now() + deps.secretGraceMs).toISOString();
    return { status: 200, body: { secret, previousSecretValidUntil: previousValidUntil } };
  });

  router.add('POST', '/v1/tenants/:tenantId/endpoints/:endpointId/test', async (req) => {
    const { tenantId, endpoint } = await loadEndpoint(req);
    const { body, dataJson } = parseEventBody(await req.text(), { maxDataDepth: deps.maxEventDepth });
    // The sample's data as written, so the dry run shows byte for byte what a delivery of it sends.
    const event: EventText = {
      id: body.id ?? dryRunEventId(),
      type: body.type,
      tenant: tenantId,
      occurredAt: new Date().toISOString(),
      dataJson,
    };
    const result = await dryRunDelivery(endpoint, event, {
      requests: deps.requests,
      loadSecrets: () => deps.endpoints.loadSigningSecrets(tenantId, endpoint.id),
    });
    return { status: 200, body: result };
  });

  // Events
  router.add('POST', '/v1/tenants/:tenantId/events', async (req) => {
    const tenantId = tenantOf(req);
    // The data's own source text goes to the stream: producers' bytes are never re-serialised.
    const { body, dataJson } = parseEventBody(await req.text(), { maxDataDepth: deps.maxEventDepth });
    await deps.tenants.require(tenantId);
    const size = utf8Length(dataJson);
    if (size > deps.maxEventBytes) {
      throw new PayloadTooLargeError(`data is ${size} bytes, over the ${deps.maxEventBytes}-byte limit`);
    }
    const entryId = await deps.publisher.publish({
      tenantId,
      type: body.type,
      dataJson,
      ...(body.id !== undefined ? { id: parseEventId(body.id, 'id') } : {}),
    });
    return { status: 202, body: { id: body.id ?? eventIdFromEntryId(entryId), streamEntryId: entryId } };
  });

  async function loadEndpoint(req: AuthenticatedRequest): Promise<{ tenantId: TenantId; endpoint: Endpoint }> {
    const tenantId = tenantOf(req);
    const endpointId = parseEndpointId(req.params['endpointId'] ?? '');
    const endpoint = await deps.endpoints.get(tenantId, endpointId);
    if (!endpoint) throw new NotFoundError(`endpoint ${endpointId} not found`);
    return { tenantId, endpoint };
  }
}

function parseLimit(raw: string | null): number {
  if (raw === null) return DEFAULT_PAGE;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new ValidationError(`limit: must be an integer from 1 to ${MAX_PAGE}`, 'limit');
  }
  return limit;
}

/** Action routes take an optional body; an empty POST means "all defaults". */
function hasBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length'];
  return (length !== undefined && length !== '0') || headers['transfer-encoding'] !== undefined;
}

/** Filters and transforms are compiled at registration, so a bad one is a 400 now rather than a failure later. */
function validateProgrammableFields(body: { filter?: unknown; transform?: string | null }): void {
  if (body.filter !== undefined && body.filter !== null) compileFilter(body.filter);
  if (body.transform !== undefined && body.transform !== null) compileTransform(body.transform);
}
