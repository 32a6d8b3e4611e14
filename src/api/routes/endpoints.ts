import { z } from 'zod';
import type { Endpoint } from '../../domain/endpoint';
import { DestinationNotAllowedError, NotFoundError, ValidationError } from '../../domain/errors';
import type { EndpointAuthType, EndpointCredentials } from '../../domain/endpoint-auth';
import { authHeaderNames } from '../../domain/endpoint-auth';
import { checkClientCertificate } from '../../security/endpoint-credentials';
import { compileFilter } from '../../domain/filter';
import { flowControlSettings } from '../../domain/flow-control';
import type { SignatureScheme } from '../../domain/endpoint';
import { generateStandardWebhooksSecret, generateWssSecret, isStandardWebhooksSecret } from '../../security/signature';
import { compileTransform } from '../../transform/transform';
import type { EventText } from '../../domain/event';
import type { EndpointId, TenantId } from '../../domain/ids';
import { dryRunDelivery, dryRunEventId } from '../dry-run';
import type { ApiDependencies, ApiInstance } from '../api-context';
import { answer, dryRunResponse, endpointResponse, noContent, replayResponse } from '../response-schemas';
import {
  createEndpointSchema,
  enableEndpointSchema,
  endpointParams,
  pageLimit,
  publishEventSchema,
  rotateSecretSchema,
  tenantParams,
  updateEndpointSchema,
} from '../schemas';
import { eventBodyRoute } from '../event-body';

const tags = ['Endpoints'];
const endpointAnswer = (description: string) => answer(description, endpointResponse);

export function endpointRoutes(app: ApiInstance, deps: ApiDependencies): void {
  /** An endpoint with flow control, with its live state (effective rate, pause, in flight) from Redis. */
  async function withFlowControlState(
    endpoint: Endpoint,
  ): Promise<Endpoint & { flowControlState?: { effectiveRate?: number; pausedUntil?: string; inFlight: number } }> {
    const settings = flowControlSettings(endpoint);
    if (settings === undefined || deps.flowControl === undefined) return endpoint;
    const state = await deps.flowControl.state(endpoint.tenantId, endpoint.id, settings);
    return {
      ...endpoint,
      flowControlState: {
        ...(state.effectiveRate !== undefined ? { effectiveRate: state.effectiveRate } : {}),
        ...(state.pausedUntilMs !== undefined ? { pausedUntil: new Date(state.pausedUntilMs).toISOString() } : {}),
        inFlight: state.inFlight,
      },
    };
  }

  async function load(params: { tenantId: TenantId; endpointId: EndpointId }): Promise<Endpoint> {
    const endpoint = await deps.endpoints.get(params.tenantId, params.endpointId);
    if (!endpoint) throw new NotFoundError(`endpoint ${params.endpointId} not found`);
    return endpoint;
  }

  app.route({
    method: 'POST',
    url: '/v1/tenants/:tenantId/endpoints',
    config: { access: 'tenant', errors: [409] },
    schema: {
      operationId: 'createEndpoint',
      summary: 'Register an endpoint (the secret is shown once)',
      tags,
      params: tenantParams,
      body: createEndpointSchema,
      response: {
        201: answer(
          'Created; `secret` is shown only here',
          endpointResponse.extend({ secret: z.string().describe('The signing secret. Shown once, never again.') }),
        ),
      },
    },
    handler: async (req, reply) => {
      const { tenantId } = req.params;
      const { secret: given, ...input } = req.body;
      validateProgrammableFields(input);
      checkBurst(input.rateLimit, input.rateLimitBurst);
      await deps.destinations.checkUrl(input.url);
      await checkAuth(input.auth, input.headers, deps);
      const secret = signingSecret(input.signatureScheme ?? 'wss', given);
      // The admin may create a tenant's first endpoint directly; a tenant key implies the tenant exists.
      if (req.principal.kind === 'admin') await deps.tenants.ensure(tenantId);
      // The tenant's key pair exists before the first v1a delivery, and its JWKS can be fetched at once.
      if (input.signatureVersions?.includes('v1a') === true) await deps.signingKeys.ensure(tenantId);
      const created = await deps.endpoints.create(tenantId, input, secret);
      return reply.code(201).send({ ...created.endpoint, secret: created.secret });
    },
  });

  app.route({
    method: 'GET',
    url: '/v1/tenants/:tenantId/endpoints',
    config: { access: 'tenant' },
    schema: {
      operationId: 'listEndpoints',
      summary: "List a tenant's endpoints, oldest first",
      tags,
      params: tenantParams,
      querystring: z.object({
        limit: pageLimit(200, 50),
        cursor: z.string().optional().describe('`nextCursor` of the previous page.'),
      }),
      response: {
        200: answer(
          'One page',
          z.object({
            items: z.array(endpointResponse),
            nextCursor: z.string().optional().describe('Pass as `cursor` for the next page; absent on the last page.'),
          }),
        ),
      },
    },
    handler: async (req) => {
      const { tenantId } = req.params;
      await deps.tenants.require(tenantId);
      const { limit, cursor } = req.query;
      return deps.endpoints.list(tenantId, { limit, ...(cursor !== undefined ? { cursor } : {}) });
    },
  });

  app.route({
    method: 'GET',
    url: '/v1/tenants/:tenantId/endpoints/:endpointId',
    config: { access: 'tenant' },
    schema: {
      operationId: 'getEndpoint',
      summary: 'Get an endpoint',
      tags,
      params: endpointParams,
      response: { 200: endpointAnswer('The endpoint') },
    },
    handler: async (req) => withFlowControlState(await load(req.params)),
  });

  app.route({
    method: 'PATCH',
    url: '/v1/tenants/:tenantId/endpoints/:endpointId',
    config: { access: 'tenant', errors: [409] },
    schema: {
      operationId: 'updateEndpoint',
      summary: 'Change an endpoint (`null` clears description, filter and transform)',
      tags,
      params: endpointParams,
      body: updateEndpointSchema,
      response: { 200: endpointAnswer('Updated') },
    },
    handler: async (req) => {
      const endpoint = await load(req.params);
      const patch = req.body;
      validateProgrammableFields(patch);
      checkBurst(patch.rateLimit === undefined ? endpoint.rateLimit : patch.rateLimit, patch.rateLimitBurst);
      if (patch.url !== undefined) await deps.destinations.checkUrl(patch.url);
      if (patch.url !== undefined && patch.auth === undefined && endpoint.auth !== undefined) {
        // Stored credentials (a password, a token, a client certificate) never follow the endpoint to another
        // scheme, host or port unless they are given again: a PATCH of the URL alone could otherwise send them to a
        // server of the caller's choice, in clear text too.
        if (new URL(patch.url).origin !== new URL(endpoint.url).origin) {
          throw new ValidationError(
            'auth: the url moves to another origin (scheme, host or port); send "auth" again in the same request, ' +
              'or null to remove it',
            'auth',
          );
        }
      }
      if (patch.auth !== undefined && patch.auth !== null)
        await checkAuth(patch.auth, patch.headers ?? endpoint.headers, deps);
      else if (patch.headers !== undefined) {
        checkAuthHeaders(patch.auth === null ? undefined : endpoint.auth?.type, patch.headers);
      }
      const scheme = patch.signatureScheme;
      if (scheme !== undefined && scheme !== 'wss' && scheme !== endpoint.signatureScheme) {
        // Every secret that still signs (the current one, and the previous one during its grace period) must
        // suit the new scheme, or every delivery would fail at signing.
        const secrets = await deps.endpoints.loadSigningSecrets(endpoint.tenantId, endpoint.id);
        if (!secrets.every(isStandardWebhooksSecret)) {
          throw new ValidationError(
            `signatureScheme: "${scheme}" signs with "whsec_" secrets only; rotate to one and let the previous ` +
              'secret expire first',
            'signatureScheme',
          );
        }
      }
      if (patch.signatureVersions?.includes('v1a') === true) await deps.signingKeys.ensure(endpoint.tenantId);
      const { description, filter, transform, rateLimit, rateLimitBurst, maxInFlight, adaptiveBackoff, ...rest } =
        patch;
      const updated = await deps.endpoints.update(endpoint.tenantId, endpoint.id, {
        ...rest,
        ...(description !== undefined ? { description: description ?? undefined } : {}),
        ...(filter !== undefined ? { filter: filter ?? undefined } : {}),
        ...(transform !== undefined ? { transform: transform ?? undefined } : {}),
        // --- Flow control (issue 17): `null` removes a limit ---
        ...(rateLimit !== undefined ? { rateLimit: rateLimit ?? undefined } : {}),
        // A burst shapes a rate: removing the rate removes its burst.
        ...(rateLimitBurst !== undefined || rateLimit === null ? { rateLimitBurst: rateLimitBurst ?? undefined } : {}),
        ...(maxInFlight !== undefined ? { maxInFlight: maxInFlight ?? undefined } : {}),
        ...(adaptiveBackoff !== undefined ? { adaptiveBackoff: adaptiveBackoff ?? undefined } : {}),
      });
      return withFlowControlState(updated);
    },
  });

  app.route({
    method: 'DELETE',
    url: '/v1/tenants/:tenantId/endpoints/:endpointId',
    config: { access: 'tenant' },
    schema: {
      operationId: 'deleteEndpoint',
      summary: 'Delete an endpoint',
      tags,
      params: endpointParams,
      response: { 204: noContent('Deleted') },
    },
    handler: async (req, reply) => {
      const endpoint = await load(req.params);
      await deps.endpoints.delete(endpoint.tenantId, endpoint.id);
      // After the delete, so a lane started meanwhile finds the endpoint gone and skips. Whatever its settings now:
      // ordering may have been switched off while lanes still ran.
      await deps.orderedLanes.cancelEndpoint(endpoint.tenantId, endpoint.id);
      return reply.code(204).send();
    },
  });

  app.route({
    method: 'POST',
    url: '/v1/tenants/:tenantId/endpoints/:endpointId/disable',
    config: { access: 'tenant', errors: [409] },
    schema: {
      operationId: 'disableEndpoint',
      summary: 'Stop delivering to an endpoint',
      tags,
      params: endpointParams,
      response: { 200: endpointAnswer('Disabled') },
    },
    handler: async (req) => {
      const endpoint = await load(req.params);
      return deps.endpoints.setEnabled(endpoint.tenantId, endpoint.id, false, 'manual');
    },
  });

  app.route({
    method: 'POST',
    url: '/v1/tenants/:tenantId/endpoints/:endpointId/enable',
    config: { access: 'tenant', errors: [409], optionalBody: true },
    schema: {
      operationId: 'enableEndpoint',
      summary: 'Resume delivering, optionally replaying what failed meanwhile',
      tags,
      params: endpointParams,
      body: enableEndpointSchema,
      response: { 200: answer('Enabled', endpointResponse.extend({ replay: replayResponse.optional() })) },
    },
    handler: async (req) => {
      const endpoint = await load(req.params);
      const enabled = await deps.endpoints.setEnabled(endpoint.tenantId, endpoint.id, true);
      const since = req.body.replayFailedSince;
      if (since === undefined) return enabled;
      const replay = await deps.operations.replay(endpoint.tenantId, endpoint.id, Date.parse(since));
      return { ...enabled, replay };
    },
  });

  app.route({
    method: 'POST',
    url: '/v1/tenants/:tenantId/endpoints/:endpointId/secret/rotate',
    config: { access: 'tenant', errors: [409], optionalBody: true },
    schema: {
      operationId: 'rotateEndpointSecret',
      summary: 'Rotate the signing secret; the old one keeps signing for WSS_SECRET_GRACE_MS',
      tags,
      params: endpointParams,
      body: rotateSecretSchema,
      response: {
        200: answer(
          'Rotated; `secret` is shown only here',
          z.object({
            secret: z.string().describe('The new signing secret. Shown once, never again.'),
            previousSecretValidUntil: z.string().describe('ISO-8601 time until which requests carry both signatures.'),
          }),
        ),
      },
    },
    handler: async (req) => {
      const endpoint = await load(req.params);
      const secret = signingSecret(endpoint.signatureScheme, req.body.secret);
      await deps.endpoints.rotateSecret(endpoint.tenantId, endpoint.id, secret, deps.secretGraceMs);
      return { secret, previousSecretValidUntil: new Date(Date.now() + deps.secretGraceMs).toISOString() };
    },
  });

  const { config, preValidation, dataJson } = eventBodyRoute(deps.maxEventDepth, dryRunSchema);
  app.route({
    method: 'POST',
    url: '/v1/tenants/:tenantId/endpoints/:endpointId/test',
    config: { ...config, access: 'tenant', errors: [422, 503] },
    preValidation,
    schema: {
      operationId: 'testEndpoint',
      summary: 'Dry run: routing decision, body and headers of a delivery; sends nothing',
      tags,
      params: endpointParams,
      body: dryRunSchema,
      response: { 200: answer('What would be sent', dryRunResponse) },
    },
    handler: async (req) => {
      const stored = await load(req.params);
      // An unsaved edit (the portal's editor) is dry-run as if saved; it is compiled first, as a PATCH would be.
      const { draft } = req.body;
      if (draft !== undefined) validateProgrammableFields(draft);
      const endpoint = draft === undefined ? stored : withDraft(stored, draft);
      // The sample's data as written, so the dry run shows byte for byte what a delivery of it sends.
      const event: EventText = {
        id: req.body.id ?? dryRunEventId(),
        type: req.body.type,
        tenant: endpoint.tenantId,
        occurredAt: new Date().toISOString(),
        dataJson: dataJson(req),
      };
      return dryRunDelivery(endpoint, event, {
        requests: deps.requests,
        loadSecrets: () => deps.endpoints.loadSigningSecrets(endpoint.tenantId, endpoint.id),
        loadSigningKeys: () => deps.signingKeys.activeSigningKeys(endpoint.tenantId),
        ...(req.body.orderingKey !== undefined ? { orderingKey: req.body.orderingKey } : {}),
      });
    },
  });
}

/** Dry-run body: the sample event, and optionally an unsaved subscription to try it against. */
const dryRunSchema = publishEventSchema.extend({
  draft: z
    .object({
      eventTypes: updateEndpointSchema.shape.eventTypes,
      filter: updateEndpointSchema.shape.filter,
      transform: updateEndpointSchema.shape.transform,
    })
    .strict()
    .optional()
    .describe('Unsaved subscription fields to dry-run as if saved (`null` clears, as in a PATCH).'),
});

function withDraft(
  endpoint: Endpoint,
  draft: { eventTypes?: readonly string[] | undefined; filter?: unknown; transform?: string | null | undefined },
): Endpoint {
  const { filter: _filter, transform: _transform, ...rest } = endpoint;
  const filter = draft.filter === undefined ? endpoint.filter : draft.filter;
  const transform = draft.transform === undefined ? endpoint.transform : draft.transform;
  return {
    ...rest,
    ...(draft.eventTypes !== undefined ? { eventTypes: draft.eventTypes } : {}),
    ...(filter !== null && filter !== undefined ? { filter } : {}),
    ...(transform !== null && transform !== undefined ? { transform } : {}),
  } as Endpoint;
}

/** The given signing secret, or a new one; Standard Webhooks schemes need a `whsec_` secret. */
function signingSecret(scheme: SignatureScheme, given: string | undefined): string {
  const secret = given ?? (scheme === 'wss' ? generateWssSecret() : generateStandardWebhooksSecret());
  if (scheme !== 'wss' && !isStandardWebhooksSecret(secret)) {
    throw new ValidationError(`secret: must be a "whsec_" base64 secret for signatureScheme "${scheme}"`, 'secret');
  }
  return secret;
}

/**
 * The endpoint authentication's own checks, beyond its schema: a token URL must pass the egress policy (the token
 * is fetched through the same guard), a client certificate must parse, be valid and match its key, and the static
 * headers must not set the header the authentication sets.
 */
async function checkAuth(
  auth: EndpointCredentials | undefined,
  headers: Readonly<Record<string, string>> | undefined,
  deps: ApiDependencies,
): Promise<void> {
  if (auth === undefined) return;
  checkAuthHeaders(auth.type, headers);
  if (auth.type === 'oauth2_client_credentials') {
    try {
      await deps.destinations.checkUrl(auth.tokenUrl);
    } catch (err) {
      if (err instanceof DestinationNotAllowedError)
        throw new DestinationNotAllowedError(`auth.tokenUrl: ${err.reason}`);
      throw err;
    }
  }
  if (auth.type === 'mtls') checkClientCertificate(auth.certificate, auth.privateKey);
}

/** The header the service sets for the authentication cannot also be a static header (it would never be sent). */
function checkAuthHeaders(type: EndpointAuthType | undefined, headers: Readonly<Record<string, string>> | undefined) {
  const owned = authHeaderNames(type);
  const clash = Object.keys(headers ?? {}).find((name) => owned.includes(name.toLowerCase()));
  if (clash !== undefined) {
    throw new ValidationError(
      `headers: "${clash}" is set by the endpoint's auth (${type ?? 'none'}); remove it from the static headers`,
      `headers.${clash}`,
    );
  }
}

/** Filters and transforms are compiled at registration, so a bad one is a 400 now rather than a failure later. */
function validateProgrammableFields(body: { filter?: unknown; transform?: string | null }): void {
  if (body.filter !== undefined && body.filter !== null) compileFilter(body.filter);
  if (body.transform !== undefined && body.transform !== null) compileTransform(body.transform);
}

/** A burst only shapes a rate limit: refused (400, field `rateLimitBurst`) where there is no rate to shape. */
function checkBurst(rateLimit: number | null | undefined, burst: number | null | undefined): void {
  if (burst !== undefined && burst !== null && (rateLimit === undefined || rateLimit === null)) {
    throw new ValidationError(
      'rateLimitBurst: shapes a rateLimit, and the endpoint has none; set rateLimit too',
      'rateLimitBurst',
    );
  }
}
