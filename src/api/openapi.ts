import { z } from 'zod';
import { EVENT_ID_PATTERN, RESOURCE_ID_PATTERN } from '../domain/ids';
import { replaySchema } from './delivery-routes';
import type { ApiResponse, Router } from './http-kit';
import {
  createApiKeySchema,
  createEndpointSchema,
  createTenantSchema,
  enableEndpointSchema,
  metadataSchema,
  publishEventSchema,
  retryPolicySchema,
  rotateSecretSchema,
  signatureSchemeSchema,
  updateEndpointSchema,
} from './schemas';

/**
 * The management API's OpenAPI 3.1 document, built from the zod schemas that validate requests, plus the
 * `/openapi.json` and `/docs` routes that serve it. `test/unit/openapi.test.ts` compares {@link API_OPERATIONS}
 * with the routes the server registers, so a new route without documentation fails the build.
 */

/** Every `error.code` the API returns. Clients may switch on these; they never change meaning. */
export const API_ERROR_CODES = {
  validation_failed:
    'A body, path parameter or query parameter failed validation (including a body that is not strict JSON in valid UTF-8, or is nested too deeply); `field` names it.',
  destination_not_allowed:
    'The endpoint URL is not allowed by the egress policy (scheme, credentials, private address).',
  not_found: 'The resource does not exist, or belongs to a tenant the caller may not see (never 403).',
  unauthorized: 'Missing, malformed, unknown or revoked bearer token.',
  conflict: 'The resource already exists, or the operation does not apply to its current state.',
  payload_too_large: 'The request body is over 1 MiB, or the event `data` is over WSS_MAX_EVENT_BYTES.',
  route_not_found: 'No route has this path.',
  method_not_allowed: 'The path exists, but not with this method.',
  internal_error: 'An unexpected failure; details are in the service logs.',
} as const;

export type ApiErrorCode = keyof typeof API_ERROR_CODES;

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** Who may call an operation: anyone, only the admin token, or the admin and the tenant's own API keys. */
type Access = 'public' | 'admin' | 'tenant';

interface QueryParameter {
  readonly name: string;
  readonly description: string;
  readonly schema: Record<string, unknown>;
}

interface ResponseSpec {
  readonly description: string;
  /** Name of a schema in `components.schemas`. */
  readonly schema?: keyof typeof RESPONSE_SCHEMAS;
}

export interface OperationSpec {
  readonly method: Method;
  /** Router-style path: `/v1/tenants/:tenantId`. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly tag: 'Tenants' | 'API keys' | 'Endpoints' | 'Events' | 'Deliveries' | 'Service';
  readonly access: Access;
  readonly body?: { readonly name: keyof typeof REQUEST_SCHEMAS; readonly required: boolean };
  readonly query?: readonly QueryParameter[];
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  /** Error statuses this operation can answer besides the ones every authenticated route shares. */
  readonly errors?: readonly (400 | 404 | 409 | 413)[];
}

/** Request bodies: the schemas the routes validate with. */
const REQUEST_SCHEMAS = {
  CreateTenant: createTenantSchema,
  CreateApiKey: createApiKeySchema,
  CreateEndpoint: createEndpointSchema,
  UpdateEndpoint: updateEndpointSchema,
  EnableEndpoint: enableEndpointSchema,
  RotateSecret: rotateSecretSchema,
  PublishEvent: publishEventSchema,
  Replay: replaySchema,
} satisfies Record<string, z.ZodType>;

// Response shapes exist only as TypeScript types in the stores; these describe them for clients.
const timestamp = z.string().describe('ISO-8601 time.');
const endpointResponse = z.object({
  id: z.string(),
  tenantId: z.string(),
  url: z.string(),
  description: z.string().optional(),
  eventTypes: z.array(z.string()),
  enabled: z.boolean(),
  disabledReason: z.string().optional().describe('Why the service disabled the endpoint, e.g. `gone` or `failing`.'),
  headers: z.record(z.string(), z.string()).optional(),
  metadata: metadataSchema.optional(),
  rateLimit: z.number().optional(),
  retryPolicy: retryPolicySchema.optional(),
  filter: z.record(z.string(), z.unknown()).optional(),
  transform: z.string().optional(),
  signatureScheme: signatureSchemeSchema,
  createdAt: timestamp,
  updatedAt: timestamp,
});
const tenantResponse = z.object({
  id: z.string(),
  name: z.string().optional(),
  retryPolicy: retryPolicySchema.optional(),
  metadata: metadataSchema.optional(),
  createdAt: timestamp,
});
const apiKeyResponse = z.object({
  id: z.string(),
  tenantId: z.string(),
  name: z.string().optional(),
  prefix: z.string().describe('First characters of the key, to tell keys apart.'),
  createdAt: timestamp,
});
const attemptResponse = z.object({
  attempt: z.number().int(),
  at: timestamp,
  outcome: z.string(),
  statusCode: z.number().int().optional(),
  durationMs: z.number(),
  error: z.string().optional(),
});
const deadLetterResponse = z.object({
  tenantId: z.string(),
  eventId: z.string(),
  eventType: z.string(),
  occurredAt: timestamp,
  endpointId: z.string(),
  failedAt: timestamp,
  attempts: z.number().int(),
  lastStatusCode: z.number().int().optional(),
  lastError: z.string(),
});
const replayResult = z.object({ replayed: z.number().int(), skipped: z.number().int() });

const RESPONSE_SCHEMAS = {
  Error: z
    .object({
      error: z.object({
        code: z.enum(Object.keys(API_ERROR_CODES) as [ApiErrorCode, ...ApiErrorCode[]]),
        message: z.string().describe('Human-readable; never contains secrets.'),
        field: z.string().optional().describe('Dotted path of the offending field, e.g. `eventTypes.0`.'),
        details: z
          .array(z.object({ field: z.string(), message: z.string() }))
          .optional()
          .describe('Every validation issue, when there is more than one.'),
      }),
    })
    .describe('The body of every 4xx and 5xx answer.'),
  Health: z.object({
    status: z.enum(['ok', 'degraded']),
    checks: z.record(z.string(), z.string()).describe('`ok`, or what is wrong; any value other than `ok` answers 503.'),
    notices: z
      .array(z.string())
      .optional()
      .describe('Recent events that did not make the service unhealthy, e.g. a recreated consumer group.'),
  }),
  Tenant: tenantResponse,
  TenantList: z.object({ items: z.array(tenantResponse) }),
  TenantDeleted: z.object({ deleted: z.string(), endpoints: z.number().int(), cancelledDeliveries: z.number().int() }),
  ApiKey: apiKeyResponse,
  ApiKeyCreated: apiKeyResponse.extend({ key: z.string().describe('The bearer token. Shown once, never again.') }),
  ApiKeyList: z.object({ items: z.array(apiKeyResponse) }),
  Endpoint: endpointResponse,
  EndpointCreated: endpointResponse.extend({
    secret: z.string().describe('The signing secret. Shown once, never again.'),
  }),
  EndpointEnabled: endpointResponse.extend({ replay: replayResult.optional() }),
  EndpointPage: z.object({
    items: z.array(endpointResponse),
    nextCursor: z.string().optional().describe('Pass as `cursor` for the next page; absent on the last page.'),
  }),
  SecretRotated: z.object({
    secret: z.string().describe('The new signing secret. Shown once, never again.'),
    previousSecretValidUntil: timestamp.describe('Until then requests carry both signatures.'),
  }),
  DryRun: z.union([
    z.object({ matches: z.literal(false), reason: z.enum(['endpoint_disabled', 'event_type', 'filter']) }),
    z.object({
      matches: z.literal(true),
      eventType: z.string(),
      headers: z.record(z.string(), z.string()),
      body: z.string().describe('The exact body that would be sent.'),
    }),
  ]),
  EventAccepted: z.object({ id: z.string(), streamEntryId: z.string() }),
  Delivery: z.object({
    tenantId: z.string(),
    eventId: z.string(),
    eventType: z.string().optional(),
    workflowId: z.string(),
    status: z.string().describe('pending, delivered, failed, cancelled, skipped or no_subscribers.'),
    workflowStatus: z.string(),
    runs: z.number().int(),
    webUiUrl: z.string().optional(),
    endpoints: z.array(
      z.object({
        endpointId: z.string(),
        status: z.string(),
        attempts: z.array(attemptResponse),
        lastError: z.string().optional(),
      }),
    ),
  }),
  DeliveryCancelled: z.object({ cancelled: z.literal(true) }),
  DeliveryRetried: z.object({ workflowId: z.string(), endpoints: z.array(z.string()) }),
  DeadLetterList: z.object({ items: z.array(deadLetterResponse) }),
  ReplayResult: replayResult,
} satisfies Record<string, z.ZodType>;

const timeQuery = (name: string, description: string): QueryParameter => ({
  name,
  description,
  schema: { type: 'string', format: 'date-time' },
});

/** Every route of the service. Keep in step with routes.ts and delivery-routes.ts (the unit test checks). */
export const API_OPERATIONS: readonly OperationSpec[] = [
  {
    method: 'GET',
    path: '/healthz',
    operationId: 'getHealth',
    summary: 'Liveness and dependency checks',
    tag: 'Service',
    access: 'public',
    responses: {
      200: { description: 'Healthy', schema: 'Health' },
      503: { description: 'A dependency is down', schema: 'Health' },
    },
  },
  {
    method: 'GET',
    path: '/openapi.json',
    operationId: 'getOpenApi',
    summary: 'This OpenAPI document',
    tag: 'Service',
    access: 'public',
    responses: { 200: { description: 'OpenAPI 3.1 document' } },
  },
  {
    method: 'GET',
    path: '/docs',
    operationId: 'getDocs',
    summary: 'Human-readable API reference (HTML)',
    tag: 'Service',
    access: 'public',
    responses: { 200: { description: 'HTML page' } },
  },

  {
    method: 'POST',
    path: '/v1/tenants',
    operationId: 'createTenant',
    summary: 'Create a tenant',
    tag: 'Tenants',
    access: 'admin',
    body: { name: 'CreateTenant', required: true },
    responses: { 201: { description: 'Created', schema: 'Tenant' } },
    errors: [400, 404, 409, 413],
  },
  {
    method: 'GET',
    path: '/v1/tenants',
    operationId: 'listTenants',
    summary: 'List tenants (a tenant key sees only its own)',
    tag: 'Tenants',
    access: 'tenant',
    responses: { 200: { description: 'Tenants', schema: 'TenantList' } },
  },
  {
    method: 'GET',
    path: '/v1/tenants/:tenantId',
    operationId: 'getTenant',
    summary: 'Get a tenant',
    tag: 'Tenants',
    access: 'tenant',
    responses: { 200: { description: 'The tenant', schema: 'Tenant' } },
    errors: [400, 404],
  },
  {
    method: 'DELETE',
    path: '/v1/tenants/:tenantId',
    operationId: 'deleteTenant',
    summary: 'Delete a tenant, its endpoints and API keys, and cancel its deliveries',
    tag: 'Tenants',
    access: 'admin',
    responses: { 200: { description: 'Deleted', schema: 'TenantDeleted' } },
    errors: [400, 404],
  },

  {
    method: 'POST',
    path: '/v1/tenants/:tenantId/api-keys',
    operationId: 'createApiKey',
    summary: 'Create a tenant API key (shown once)',
    tag: 'API keys',
    access: 'admin',
    body: { name: 'CreateApiKey', required: false },
    responses: { 201: { description: 'Created; `key` is shown only here', schema: 'ApiKeyCreated' } },
    errors: [400, 404, 413],
  },
  {
    method: 'GET',
    path: '/v1/tenants/:tenantId/api-keys',
    operationId: 'listApiKeys',
    summary: "List a tenant's API keys (never the keys themselves)",
    tag: 'API keys',
    access: 'admin',
    responses: { 200: { description: 'Keys', schema: 'ApiKeyList' } },
    errors: [400, 404],
  },
  {
    method: 'DELETE',
    path: '/v1/tenants/:tenantId/api-keys/:keyId',
    operationId: 'revokeApiKey',
    summary: 'Revoke an API key',
    tag: 'API keys',
    access: 'admin',
    responses: { 204: { description: 'Revoked' } },
    errors: [400, 404],
  },

  {
    method: 'POST',
    path: '/v1/tenants/:tenantId/endpoints',
    operationId: 'createEndpoint',
    summary: 'Register an endpoint (the secret is shown once)',
    tag: 'Endpoints',
    access: 'tenant',
    body: { name: 'CreateEndpoint', required: true },
    responses: { 201: { description: 'Created; `secret` is shown only here', schema: 'EndpointCreated' } },
    errors: [400, 404, 409, 413],
  },
  {
    method: 'GET',
    path: '/v1/tenants/:tenantId/endpoints',
    operationId: 'listEndpoints',
    summary: "List a tenant's endpoints, oldest first",
    tag: 'Endpoints',
    access: 'tenant',
    query: [
      { name: 'limit', description: 'Page size.', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
      { name: 'cursor', description: '`nextCursor` of the previous page.', schema: { type: 'string' } },
    ],
    responses: { 200: { description: 'One page', schema: 'EndpointPage' } },
    errors: [400, 404],
  },
  {
    method: 'GET',
    path: '/v1/tenants/:tenantId/endpoints/:endpointId',
    operationId: 'getEndpoint',
    summary: 'Get an endpoint',
    tag: 'Endpoints',
    access: 'tenant',
    responses: { 200: { description: 'The endpoint', schema: 'Endpoint' } },
    errors: [400, 404],
  },
  {
    method: 'PATCH',
    path: '/v1/tenants/:tenantId/endpoints/:endpointId',
    operationId: 'updateEndpoint',
    summary: 'Change an endpoint (`null` clears description, filter and transform)',
    tag: 'Endpoints',
    access: 'tenant',
    body: { name: 'UpdateEndpoint', required: true },
    responses: { 200: { description: 'Updated', schema: 'Endpoint' } },
    errors: [400, 404, 409, 413],
  },
  {
    method: 'DELETE',
    path: '/v1/tenants/:tenantId/endpoints/:endpointId',
    operationId: 'deleteEndpoint',
    summary: 'Delete an endpoint',
    tag: 'Endpoints',
    access: 'tenant',
    responses: { 204: { description: 'Deleted' } },
    errors: [400, 404],
  },
  {
    method: 'POST',
    path: '/v1/tenants/:tenantId/endpoints/:endpointId/disable',
    operationId: 'disableEndpoint',
    summary: 'Stop delivering to an endpoint',
    tag: 'Endpoints',
    access: 'tenant',
    responses: { 200: { description: 'Disabled', schema: 'Endpoint' } },
    errors: [400, 404, 409],
  },
  {
    method: 'POST',
    path: '/v1/tenants/:tenantId/endpoints/:endpointId/enable',
    operationId: 'enableEndpoint',
    summary: 'Resume delivering, optionally replaying what failed meanwhile',
    tag: 'Endpoints',
    access: 'tenant',
    body: { name: 'EnableEndpoint', required: false },
    responses: { 200: { description: 'Enabled', schema: 'EndpointEnabled' } },
    errors: [400, 404, 409, 413],
  },
  {
    method: 'POST',
    path: '/v1/tenants/:tenantId/endpoints/:endpointId/secret/rotate',
    operationId: 'rotateEndpointSecret',
    summary: 'Rotate the signing secret; the old one keeps signing for WSS_SECRET_GRACE_MS',
    tag: 'Endpoints',
    access: 'tenant',
    body: { name: 'RotateSecret', required: false },
    responses: { 200: { description: 'Rotated; `secret` is shown only here', schema: 'SecretRotated' } },
    errors: [400, 404, 409, 413],
  },
  {
    method: 'POST',
    path: '/v1/tenants/:tenantId/endpoints/:endpointId/test',
    operationId: 'testEndpoint',
    summary: 'Dry run: routing decision, body and headers of a delivery; sends nothing',
    tag: 'Endpoints',
    access: 'tenant',
    body: { name: 'PublishEvent', required: true },
    responses: { 200: { description: 'What would be sent', schema: 'DryRun' } },
    errors: [400, 404, 413],
  },
  {
    method: 'POST',
    path: '/v1/tenants/:tenantId/endpoints/:endpointId/replay',
    operationId: 'replayEndpoint',
    summary: "Replay an endpoint's dead letters from a time range",
    tag: 'Deliveries',
    access: 'tenant',
    body: { name: 'Replay', required: true },
    responses: { 202: { description: 'Replays started', schema: 'ReplayResult' } },
    errors: [400, 404, 413],
  },

  {
    method: 'POST',
    path: '/v1/tenants/:tenantId/events',
    operationId: 'publishEvent',
    summary: 'Publish an event (like a producer XADD)',
    tag: 'Events',
    access: 'tenant',
    body: { name: 'PublishEvent', required: true },
    responses: { 202: { description: 'Accepted for delivery', schema: 'EventAccepted' } },
    errors: [400, 404, 413],
  },

  {
    method: 'GET',
    path: '/v1/tenants/:tenantId/deliveries/:eventId',
    operationId: 'getDelivery',
    summary: "An event's delivery status and attempts",
    tag: 'Deliveries',
    access: 'tenant',
    responses: { 200: { description: 'The delivery', schema: 'Delivery' } },
    errors: [400, 404],
  },
  {
    method: 'POST',
    path: '/v1/tenants/:tenantId/deliveries/:eventId/cancel',
    operationId: 'cancelDelivery',
    summary: 'Cancel a running delivery',
    tag: 'Deliveries',
    access: 'tenant',
    responses: { 202: { description: 'Cancellation requested', schema: 'DeliveryCancelled' } },
    errors: [400, 404, 409],
  },
  {
    method: 'POST',
    path: '/v1/tenants/:tenantId/deliveries/:eventId/retry',
    operationId: 'retryDelivery',
    summary: "Retry now the event's failed deliveries",
    tag: 'Deliveries',
    access: 'tenant',
    responses: { 202: { description: 'Retry started', schema: 'DeliveryRetried' } },
    errors: [400, 404, 409],
  },
  {
    method: 'GET',
    path: '/v1/tenants/:tenantId/dead-letters',
    operationId: 'listDeadLetters',
    summary: 'Deliveries that failed for good',
    tag: 'Deliveries',
    access: 'tenant',
    query: [
      {
        name: 'endpointId',
        description: 'Only this endpoint.',
        schema: { type: 'string', pattern: RESOURCE_ID_PATTERN.source },
      },
      timeQuery('since', 'Failed at or after this time.'),
      timeQuery('until', 'Failed at or before this time.'),
    ],
    responses: { 200: { description: 'Dead letters', schema: 'DeadLetterList' } },
    errors: [400, 404],
  },
];

const PATH_PARAMETERS: Readonly<Record<string, { description: string; pattern: string }>> = {
  tenantId: { description: 'Tenant id.', pattern: RESOURCE_ID_PATTERN.source },
  endpointId: { description: 'Endpoint id.', pattern: RESOURCE_ID_PATTERN.source },
  keyId: { description: 'API key id.', pattern: RESOURCE_ID_PATTERN.source },
  eventId: { description: 'Event id.', pattern: EVENT_ID_PATTERN.source },
};

const ERROR_STATUS: Readonly<Record<number, { description: string; codes: readonly ApiErrorCode[] }>> = {
  400: { description: 'Invalid request', codes: ['validation_failed', 'destination_not_allowed'] },
  401: { description: 'Missing or invalid token', codes: ['unauthorized'] },
  404: { description: 'Not found, or not visible to this caller', codes: ['not_found'] },
  409: { description: 'Conflict with the current state', codes: ['conflict'] },
  413: { description: 'Body or event data too large', codes: ['payload_too_large'] },
  500: { description: 'Internal error', codes: ['internal_error'] },
};

/** `/v1/tenants/:tenantId` → `/v1/tenants/{tenantId}`. */
export function toOpenApiPath(routerPath: string): string {
  return routerPath.replace(/:([A-Za-z]+)/g, '{$1}');
}

function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  // OpenAPI 3.1 speaks JSON Schema 2020-12 natively; only the per-document `$schema` is redundant inside it.
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    io,
    target: 'draft-2020-12',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return rest;
}

const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errorContent = { 'application/json': { schema: schemaRef('Error') } };

function buildOperation(op: OperationSpec): Record<string, unknown> {
  const parameters = [
    ...[...op.path.matchAll(/:([A-Za-z]+)/g)].map(([, name = '']) => ({
      name,
      in: 'path',
      required: true,
      description: PATH_PARAMETERS[name]?.description ?? name,
      schema: { type: 'string', ...(PATH_PARAMETERS[name] ? { pattern: PATH_PARAMETERS[name].pattern } : {}) },
    })),
    ...(op.query ?? []).map((q) => ({
      name: q.name,
      in: 'query',
      required: false,
      description: q.description,
      schema: q.schema,
    })),
  ];
  const responses: Record<string, unknown> = {};
  for (const [status, spec] of Object.entries(op.responses)) {
    responses[status] = {
      description: spec.description,
      ...(spec.schema ? { content: { 'application/json': { schema: schemaRef(spec.schema) } } } : {}),
    };
  }
  const errorStatuses = new Set<number>(op.errors ?? []);
  if (op.access !== 'public') {
    errorStatuses.add(401);
    // Admin-only routes answer a tenant key with 404, so they do not reveal that they exist.
    if (op.access === 'admin') errorStatuses.add(404);
    errorStatuses.add(500);
  }
  for (const status of [...errorStatuses].sort()) {
    const info = ERROR_STATUS[status];
    if (info)
      responses[String(status)] = {
        description: `${info.description} (${info.codes.join(', ')})`,
        content: errorContent,
      };
  }
  if (op.path === '/openapi.json')
    responses['200'] = {
      description: 'OpenAPI 3.1 document',
      content: { 'application/json': { schema: { type: 'object' } } },
    };
  if (op.path === '/docs')
    responses['200'] = { description: 'HTML page', content: { 'text/html': { schema: { type: 'string' } } } };
  return {
    operationId: op.operationId,
    summary: op.summary,
    tags: [op.tag],
    ...(op.access === 'public' ? { security: [] } : {}),
    ...(op.access === 'admin' ? { description: 'Admin token only; a tenant API key gets 404.' } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(op.body
      ? {
          requestBody: {
            required: op.body.required,
            content: { 'application/json': { schema: schemaRef(op.body.name) } },
          },
        }
      : {}),
    responses,
  };
}

/** Builds the OpenAPI 3.1 document of the management API. */
export function buildOpenApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of API_OPERATIONS) {
    const path = (paths[toOpenApiPath(op.path)] ??= {});
    path[op.method.toLowerCase()] = buildOperation(op);
  }
  const schemas: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(REQUEST_SCHEMAS)) schemas[name] = jsonSchemaOf(schema, 'input');
  for (const [name, schema] of Object.entries(RESPONSE_SCHEMAS)) schemas[name] = jsonSchemaOf(schema, 'output');
  return {
    openapi: '3.1.0',
    info: {
      title: 'Webhook sender service management API',
      version: '1',
      description:
        'Tenants, endpoints, events and deliveries. Authenticate with `Authorization: Bearer <token>`: the admin ' +
        'token, or a tenant API key that only sees its own tenant (other tenants answer 404, never 403). Request ' +
        'bodies are at most 1 MiB. Errors are `{"error": {"code", "message", "field"?, "details"?}}`; the codes are ' +
        'stable:\n\n' +
        Object.entries(API_ERROR_CODES)
          .map(([code, meaning]) => `- \`${code}\`: ${meaning}`)
          .join('\n'),
    },
    security: [{ bearerAuth: [] }],
    tags: [...new Set(API_OPERATIONS.map((op) => op.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: 'The admin token (WSS_ADMIN_TOKEN) or a tenant API key (`wsk_...`).',
        },
      },
      schemas,
    },
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A self-contained reference page: rendered on the server from the document, with no scripts, fonts or styles
 * from elsewhere (the service may run without internet access).
 */
export function renderDocsHtml(document: Record<string, unknown>): string {
  const doc = document as {
    info: { title: string; description: string };
    paths: Record<
      string,
      Record<
        string,
        {
          summary: string;
          description?: string;
          security?: unknown[];
          parameters?: { name: string; in: string; description: string }[];
          requestBody?: { required: boolean; content: Record<string, { schema: { $ref?: string } }> };
          responses: Record<string, { description: string; content?: Record<string, { schema: { $ref?: string } }> }>;
        }
      >
    >;
    components: { schemas: Record<string, unknown> };
  };
  const refName = (schema: { $ref?: string } | undefined) => schema?.$ref?.split('/').pop();
  const link = (name: string | undefined) =>
    name ? ` <a href="#schema-${escapeHtml(name)}">${escapeHtml(name)}</a>` : '';
  const operations: string[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters ?? [])
        .map((p) => `<li><code>${escapeHtml(p.name)}</code> (${escapeHtml(p.in)}): ${escapeHtml(p.description)}</li>`)
        .join('');
      const body = op.requestBody
        ? `<p>Body (${op.requestBody.required ? 'required' : 'optional'}):${link(refName(op.requestBody.content['application/json']?.schema))}</p>`
        : '';
      const responses = Object.entries(op.responses)
        .map(
          ([status, r]) =>
            `<li><code>${escapeHtml(status)}</code> ${escapeHtml(r.description)}${link(refName(r.content?.['application/json']?.schema))}</li>`,
        )
        .join('');
      operations.push(
        `<section class="op"><h3><span class="m ${escapeHtml(method)}">${escapeHtml(method.toUpperCase())}</span> <code>${escapeHtml(path)}</code></h3>` +
          `<p>${escapeHtml(op.summary)}${op.security?.length === 0 ? ' <em>(no authentication)</em>' : ''}</p>` +
          (op.description ? `<p>${escapeHtml(op.description)}</p>` : '') +
          (params ? `<ul>${params}</ul>` : '') +
          body +
          `<p>Responses:</p><ul>${responses}</ul></section>`,
      );
    }
  }
  const schemas = Object.entries(doc.components.schemas)
    .map(
      ([name, schema]) =>
        `<section id="schema-${escapeHtml(name)}"><h3>${escapeHtml(name)}</h3><pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre></section>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(doc.info.title)}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
code,pre{font-family:ui-monospace,monospace}pre{background:#f5f5f5;padding:.75rem;overflow:auto;font-size:13px}
.op{border-top:1px solid #ddd;padding:.5rem 0}.m{display:inline-block;min-width:4.5rem;font-weight:bold}
.get{color:#06c}.post{color:#080}.patch{color:#b60}.delete{color:#c00}
</style></head><body>
<h1>${escapeHtml(doc.info.title)}</h1>
<pre>${escapeHtml(doc.info.description)}</pre>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a></p>
<h2>Operations</h2>
${operations.join('\n')}
<h2>Schemas</h2>
${schemas}
</body></html>
`;
}

/** The /docs answer: `body` is sent as the string it is, with `contentType` (see `ApiResponse`). */
export interface TextResponse extends ApiResponse {
  readonly body: string;
  readonly contentType: string;
}

/**
 * Adds the public `GET /openapi.json` and `GET /docs`. Both are built once: the document depends only on code.
 */
export function registerDocsRoutes(router: Router): void {
  const document = buildOpenApiDocument();
  const html = renderDocsHtml(document);
  router.add('GET', '/openapi.json', async () => ({ status: 200, body: document }));
  router.add('GET', '/docs', async (): Promise<TextResponse> => ({
    status: 200,
    body: html,
    contentType: 'text/html; charset=utf-8',
  }));
}
