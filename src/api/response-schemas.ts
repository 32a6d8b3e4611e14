import { z } from 'zod';
import { MAX_RESPONSE_BODY_EXCERPT_LENGTH } from '../domain/delivery-log';
import { API_ERROR_CODES } from './errors';
import type { ApiErrorCode } from './errors';
import { metadataSchema, retryPolicySchema, signatureSchemeSchema } from './schemas';

/**
 * What the API answers, for clients and for the OpenAPI document. Responses are sent as the handlers build them
 * (they are not re-validated at run time); the schemathesis run in `npm test` checks that they conform.
 * Each has a name (`.meta({ id })`), so the document refers to it once, as a component.
 */

const timestamp = z.string().describe('ISO-8601 time.');
// Stored records hold read-only arrays.
const storedRetryPolicy = z
  .object({
    ...retryPolicySchema.shape,
    permanentStatusCodes: retryPolicySchema.shape.permanentStatusCodes.unwrap().readonly().optional(),
  })
  .strict()
  .describe(retryPolicySchema.description ?? '');

export const errorResponse = z
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
  .describe('The body of every 4xx and 5xx answer.')
  .meta({ id: 'Error' });

export const healthResponse = z
  .object({
    status: z.enum(['ok', 'degraded']),
    checks: z.record(z.string(), z.string()).describe('`ok`, or what is wrong; any value other than `ok` answers 503.'),
    notices: z
      .array(z.string())
      .optional()
      .describe('Recent events that did not make the service unhealthy, e.g. a recreated consumer group.'),
  })
  .meta({ id: 'Health' });

export const tenantResponse = z
  .object({
    id: z.string(),
    name: z.string().optional(),
    retryPolicy: storedRetryPolicy.optional(),
    metadata: metadataSchema.optional(),
    createdAt: timestamp,
  })
  .meta({ id: 'Tenant' });

export const apiKeyResponse = z
  .object({
    id: z.string(),
    tenantId: z.string(),
    name: z.string().optional(),
    prefix: z.string().describe('First characters of the key, to tell keys apart.'),
    createdAt: timestamp,
  })
  .meta({ id: 'ApiKey' });

/** The endpoint's authentication without its secrets: the only shape a read can return. */
const endpointAuthView = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('basic'), username: z.string() }),
    z.object({ type: z.literal('bearer') }),
    z.object({
      type: z.literal('oauth2_client_credentials'),
      tokenUrl: z.string(),
      clientId: z.string(),
      scope: z.string().optional(),
      audience: z.string().optional(),
      clientAuthMethod: z.enum(['client_secret_basic', 'client_secret_post']),
    }),
    z.object({
      type: z.literal('mtls'),
      certificate: z.object({
        subject: z.string(),
        issuer: z.string(),
        fingerprint256: z.string(),
        validTo: z.string(),
      }),
    }),
  ])
  .describe('How deliveries authenticate; secrets (password, token, client secret, private key) are never shown.')
  .meta({ id: 'EndpointAuth' });
/** The live state of an endpoint's flow control, on reads of an endpoint that has a rateLimit or maxInFlight. */
export const flowControlStateResponse = z
  .object({
    effectiveRate: z
      .number()
      .optional()
      .describe('The rate now applied, deliveries/s: the rateLimit, or less while AIMD has cut it.'),
    pausedUntil: timestamp.optional().describe("Set while a receiver's Retry-After holds every delivery back."),
    inFlight: z.number().int().describe('Requests in flight now, across every worker.'),
  })
  .meta({ id: 'FlowControlState' });

export const endpointResponse = z
  .object({
    id: z.string(),
    tenantId: z.string(),
    url: z.string(),
    description: z.string().optional(),
    eventTypes: z.array(z.string()).readonly(),
    enabled: z.boolean(),
    disabledReason: z.string().optional().describe('Why the service disabled the endpoint, e.g. `gone` or `failing`.'),
    headers: z.record(z.string(), z.string()).optional(),
    metadata: metadataSchema.optional(),
    // --- Flow control (issue 17) ---
    rateLimit: z.number().optional(),
    rateLimitBurst: z.number().int().optional(),
    maxInFlight: z.number().int().optional(),
    adaptiveBackoff: z.boolean().optional(),
    flowControlState: flowControlStateResponse.optional(),
    // --- end flow control ---
    retryPolicy: storedRetryPolicy.optional(),
    filter: z.unknown().optional().describe('Mongo-style content filter over the event envelope (an object).'),
    transform: z.string().optional(),
    signatureScheme: signatureSchemeSchema,
    signatureVersions: z
      .array(z.enum(['v1', 'v1a']))
      .readonly()
      .optional()
      .describe(
        'Signatures sent: `v1` (HMAC with the endpoint secret), `v1a` (ed25519 with the tenant key). Absent means `["v1"]`.',
      ),
    sendTraceparent: z
      .boolean()
      .describe("Whether deliveries carry the attempt's W3C `traceparent` header (when tracing is on)."),
    auth: endpointAuthView.optional(),
    ordering: z
      .object({ key: z.string(), onFailure: z.enum(['continue', 'pause']) })
      .optional()
      .describe('Ordered delivery per key (README "Ordered delivery").'),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Endpoint' });

export const replayResponse = z
  .object({ replayed: z.number().int(), skipped: z.number().int() })
  .meta({ id: 'ReplayResult' });

export const dryRunResponse = z
  .union([
    z.object({ matches: z.literal(false), reason: z.enum(['endpoint_disabled', 'event_type', 'filter']) }),
    z.object({
      matches: z.literal(true),
      eventType: z.string(),
      headers: z.record(z.string(), z.string()),
      body: z.string().describe('The exact body that would be sent.'),
      ordering: z
        .union([z.object({ key: z.string(), keyHash: z.string() }), z.object({ key: z.null(), reason: z.string() })])
        .optional()
        .describe(
          "For an endpoint with ordering: the event's ordering key and its hash (the lane it joins), or why it has none (it is then delivered unordered).",
        ),
    }),
  ])
  .meta({ id: 'DryRun' });

// --- ordered delivery (issue 17)
const pausedKey = z
  .object({
    keyHash: z.string().describe("The key's hash; resume with it, or with the key itself."),
    eventId: z.string().describe('The event whose failure paused the key (it was dead-lettered).'),
    seq: z.string().describe("That event's stream entry id."),
    pausedAt: timestamp,
    lastError: z.string().optional(),
    queued: z.number().int().describe('Events of the key waiting behind the pause.'),
  })
  .meta({ id: 'PausedOrderingKey' });

export const pausedKeysResponse = z.object({ items: z.array(pausedKey) }).meta({ id: 'PausedOrderingKeys' });

export const resumedKeyResponse = pausedKey.extend({ resumed: z.literal(true) });

const attemptResponse = z.object({
  attempt: z.number().int(),
  at: timestamp,
  outcome: z.string(),
  statusCode: z.number().int().optional(),
  durationMs: z.number(),
  error: z.string().optional(),
  responseBodyExcerpt: z
    .string()
    .optional()
    .describe(
      `The start of the receiver's answer body (at most ${MAX_RESPONSE_BODY_EXCERPT_LENGTH} characters) for an attempt that was answered but not delivered. Shown only here: it may echo the event, so it is kept out of logs, Temporal history and dead letters.`,
    ),
});

export const deliveryResponse = z
  .object({
    tenantId: z.string(),
    eventId: z.string(),
    eventType: z.string().optional(),
    workflowId: z.string(),
    status: z.string().describe('pending, delivered, failed, cancelled, skipped or no_subscribers.'),
    workflowStatus: z.string(),
    runs: z.number().int(),
    webUiUrl: z
      .string()
      .optional()
      .describe('The run in the Temporal Web UI (with `WSS_TEMPORAL_UI_URL`); for the admin token only.'),
    endpoints: z.array(
      z.object({
        endpointId: z.string(),
        status: z.string(),
        attempts: z.array(attemptResponse),
        lastError: z.string().optional(),
      }),
    ),
  })
  .meta({ id: 'Delivery' });

export const deliverySummaryResponse = z
  .object({
    eventId: z.string(),
    eventType: z.string().optional(),
    status: z.string().describe('pending, delivered, failed, cancelled, skipped or no_subscribers.'),
    workflowStatus: z
      .string()
      .describe("Temporal's execution status: RUNNING, COMPLETED, CANCELED, TERMINATED, TIMED_OUT or FAILED."),
    endpointIds: z.array(z.string()).describe('The endpoints this run delivers to.'),
    startedAt: timestamp.describe('When the latest run started (a retry starts a new run).'),
    closedAt: timestamp.optional().describe('When it ended; absent while pending.'),
  })
  .meta({ id: 'DeliverySummary' });

export const deadLetterResponse = z
  .object({
    tenantId: z.string(),
    eventId: z.string(),
    eventType: z.string(),
    occurredAt: timestamp,
    endpointId: z.string(),
    failedAt: timestamp,
    attempts: z.number().int(),
    lastStatusCode: z.number().int().optional(),
    lastError: z.string(),
    reason: z
      .string()
      .optional()
      .describe(
        'What ended the delivery (an error code): the last answer (`retries_exhausted`, `endpoint_gone`, ...) or Temporal (`attempt_timed_out`, `worker_lost`, `retry_window_exhausted`, `unexpected_error`).',
      ),
  })
  .meta({ id: 'DeadLetter' });

/** A documented success answer: what it means, and the JSON it carries. */
export function answer<T extends z.ZodType>(description: string, schema: T) {
  return { description, content: { 'application/json': { schema } } };
}

/** A documented answer without a body. */
export const noContent = (description: string) => z.undefined().describe(description);
