import { z } from 'zod';
import { EVENT_TYPE_PATTERN, MAX_EVENT_TYPE_LENGTH, assertEventTypePattern } from '../domain/event-type';
import { checkStaticHeaders } from '../domain/http-headers';
import type { ApiKeyId, EndpointId, EventId, TenantId } from '../domain/ids';
import { EVENT_ID_PATTERN, RESOURCE_ID_PATTERN } from '../domain/ids';
import { retryPolicySchema as domainRetryPolicySchema } from '../domain/retry-policy';
import { FLOW_CONTROL_LIMITS } from '../domain/flow-control';
import { parseTraceparent } from '../domain/trace-context';
import {
  MAX_ORDERING_KEY_LENGTH,
  MAX_ORDERING_PATH_LENGTH,
  ORDERING_KEY_HASH_PATTERN,
  orderingKeyProblem,
} from '../domain/ordering';

/**
 * Request bodies of the management API. The same schemas validate requests and generate `/openapi.json`, so the
 * published contract cannot drift from what the server accepts.
 */

/**
 * An id the schema validates against its pattern, typed as its brand: the request schema is the one parse at
 * this edge, so handlers receive `TenantId`, `EndpointId`, ... (the patterns are those of `domain/ids.ts`).
 */
export const brandedId = <B extends string>(pattern: RegExp, description: string) =>
  z.string().regex(pattern, `must match ${pattern.source}`).describe(description) as unknown as z.ZodType<B, string>;

export const eventTypePatternSchema = z
  .string()
  .max(128)
  .superRefine((value, ctx) => {
    try {
      assertEventTypePattern(value, 'eventTypes');
    } catch {
      ctx.addIssue({
        code: 'custom',
        message: `"${value.slice(0, 140)}" is not an event type pattern (expected "a.b", "a.*" or "*")`,
      });
    }
  })
  .meta({ pattern: `^(?:\\*|${EVENT_TYPE_PATTERN.source.slice(1, -1)}(?:\\.\\*)?)$` })
  .describe('An exact event type (`order.created`), a prefix wildcard (`order.*`) or `*`.');

export const urlSchema = z
  .string()
  .max(2048)
  .superRefine((value, ctx) => {
    // The URL parser strips or percent-encodes these silently, so the stored URL would not be the one used.
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    if (/[\x00-\x20\x7f]/.test(value)) {
      ctx.addIssue({ code: 'custom', message: 'must not contain spaces or control characters (percent-encode them)' });
      return;
    }
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not a valid absolute URL' });
      return;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      ctx.addIssue({
        code: 'custom',
        message: `scheme "${url.protocol.slice(0, -1)}" is not allowed; use http or https`,
      });
      return;
    }
    // Credentials in a URL end up in logs and dashboards; static headers (e.g. Authorization) carry them instead.
    if (url.username !== '' || url.password !== '') {
      ctx.addIssue({ code: 'custom', message: 'must not contain credentials; use static headers instead' });
      return;
    }
    const form = authorityFormProblem(value, url);
    if (form !== undefined) ctx.addIssue({ code: 'custom', message: form });
    // A fragment is never sent; an empty one (`#`) is still a sign of a URL that is not what was meant.
    if (value.includes('#'))
      ctx.addIssue({ code: 'custom', message: 'must not contain a fragment (it is never sent)' });
    if (url.port === '0') ctx.addIssue({ code: 'custom', message: 'port 0 cannot be connected to' });
  })
  .describe(
    'Receiver URL: absolute http(s), port 1-65535, no credentials or userinfo, fragment, backslash, spaces or control characters; scheme and host written as the URL parser reads them (lower case, `http://127.0.0.1`, not `HTTP://` or `http://2130706433`). Checked against the egress policy.',
  );

/**
 * Why the scheme and authority of `text` are not written exactly as the WHATWG URL parser (which deliveries use)
 * reads them, or undefined when they are. The URL is stored as written, so any difference would make the stored
 * URL name another place than the one deliveries go to: `http://127.0.0.1:9100\\@evil.example/x` goes to
 * 127.0.0.1 while an RFC 3986 reader of the stored text sees the host evil.example; `http://2130706433/` goes to
 * 127.0.0.1 while it reads as a DNS name. Nothing is normalised on the tenant's behalf, an upper-case scheme or
 * host included: the message gives the form to write instead. The path and query are sent as the parser encodes
 * them (`/é` as `/%C3%A9`), which every reader agrees means the same resource.
 */
function authorityFormProblem(text: string, url: URL): string | undefined {
  const canonical = `${url.protocol}//${url.host}`;
  if (text.includes('\\'))
    return 'must not contain a backslash (the URL parser reads it as "/"; percent-encode it as %5C)';
  const [, scheme, authority] = /^(https?:)\/\/([^/?#]*)/.exec(text) ?? [];
  if (scheme === undefined || authority === undefined) {
    return `must start with "http://" or "https://" in lower case, as in ${canonical}`;
  }
  if (authority.includes('@')) {
    return 'must not contain userinfo ("…@" before the host), not even an empty one; use static headers for credentials';
  }
  if (authority === '') return 'must have a host right after "//"';
  // An IPv6 literal means one address however it is spelled (`[::ffff:10.0.0.1]` is `[::ffff:a00:1]`): every
  // reader parses it the same way, so only its port is compared.
  const ipv6 = /^(\[[^\]]*\])(.*)$/.exec(authority);
  const written = ipv6 === null ? `${scheme}//${authority}` : `${scheme}//${url.hostname}${ipv6[2] ?? ''}`;
  if (written !== canonical) {
    return `scheme and host must be written as the URL parser reads them: ${canonical} (lower case, an IPv4 address in its usual form, punycode for a non-ASCII name, no default or empty port)`;
  }
  return undefined;
}

export const headersSchema = z
  .record(z.string(), z.string())
  .superRefine((headers, ctx) => {
    for (const problem of checkStaticHeaders(headers)) {
      ctx.addIssue({
        code: 'custom',
        path: problem.name === undefined ? [] : [problem.name],
        message: problem.message,
      });
    }
  })
  .describe(
    "Static headers sent with every request: at most 32, 8 KiB in all, values up to 2048 characters. Hop-by-hop, framing and proxy headers, the body's Content-* headers, User-Agent and the X-WSS-*/Webhook-* namespaces are refused (see the README).",
  );

export const metadataSchema = z
  .record(z.string().max(64), z.string().max(1024))
  .refine((m) => Object.keys(m).length <= 32, 'at most 32 keys')
  .describe('Free-form labels, returned as given.');

/** The domain's one retry-policy validator: the same bounds, and maximum interval >= initial interval. */
export const retryPolicySchema = domainRetryPolicySchema.describe(
  'Retry policy; unset fields fall back to the tenant and service defaults.',
);

export const signatureSchemeSchema = z.enum(['wss', 'standard-webhooks', 'both']);

export const signatureVersionsSchema = z
  .array(z.enum(['v1', 'v1a']))
  .min(1)
  .max(2)
  .refine((versions) => new Set(versions).size === versions.length, 'must not repeat a version')
  .describe(
    'Signatures sent, by their Standard Webhooks identifiers: `v1` is the HMAC-SHA256 signature with the endpoint secret (headers per `signatureScheme`), `v1a` the ed25519 signature with the tenant\'s key (`webhook-signature: v1a,…` and `webhook-signature-kid`; public keys at `/v1/tenants/{tenantId}/jwks.json`). Default `["v1"]`.',
  );

export const secretSchema = z
  .string()
  .min(24, 'must be at least 24 characters')
  .max(256)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
  .describe('Signing secret. Generated when omitted; `whsec_` base64 for Standard Webhooks.');

// Endpoint authentication (issue 18). The secrets go in here and never come out: reads show the view only.
const credentialText = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[\x20-\x7e]+$/, 'must be printable ASCII');

export const endpointAuthSchema = z
  .discriminatedUnion('type', [
    z
      .object({
        type: z.enum(['basic']),
        username: credentialText(256).refine((u) => !u.includes(':'), 'must not contain ":"'),
        password: credentialText(1024),
      })
      .strict(),
    z
      .object({
        type: z.enum(['bearer']),
        // RFC 6750 §2.1: the credential is one token after "Bearer "; a space would split it at the receiver.
        token: credentialText(4096).regex(/^[\x21-\x7e]+$/, 'must be one token: printable ASCII without spaces'),
      })
      .strict(),
    z
      .object({
        type: z.enum(['oauth2_client_credentials']),
        tokenUrl: urlSchema.describe('Token endpoint (https in production); checked against the egress policy.'),
        clientId: credentialText(512),
        clientSecret: credentialText(1024),
        scope: credentialText(1024).optional(),
        audience: credentialText(1024).optional(),
        clientAuthMethod: z
          .enum(['client_secret_basic', 'client_secret_post'])
          .default('client_secret_basic')
          .describe('How the client id and secret reach the token endpoint (RFC 6749 §2.3.1).'),
      })
      .strict(),
    z
      .object({
        type: z.enum(['mtls']),
        certificate: z
          .string()
          .min(1)
          .max(64 * 1024)
          .describe('PEM client certificate, intermediates after it.'),
        privateKey: z
          .string()
          .min(1)
          .max(64 * 1024)
          .describe('PEM private key of the certificate, unencrypted.'),
      })
      .strict(),
  ])
  .describe(
    'How deliveries authenticate besides the signature: `basic`, `bearer`, `oauth2_client_credentials` or `mtls`. Secrets are encrypted at rest and never returned; reads show the type and the non-secret fields.',
  );
// --- ordered delivery (issue 17)
export const orderingSchema = z
  .object({
    key: z
      .string()
      .max(MAX_ORDERING_PATH_LENGTH)
      .superRefine((value, ctx) => {
        // The error names the field (ordering.key) already; the message says only what is wrong.
        const problem = orderingKeyProblem(value);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      })
      .describe(
        'The key events are ordered by: a path into the event envelope (`$.data.order.id`, `$.data.items[0].sku`, `$["data"]["order-id"]`), or `orderingKey` for the stream entry\'s `orderingKey` field. An event without a key is delivered unordered.',
      ),
    onFailure: z
      .enum(['continue', 'pause'])
      .default('continue')
      .describe(
        "After a head event of a key is dead-lettered: `continue` with the key's next event, or `pause` the key until it is resumed (`POST .../ordering/resume`). Default `continue`.",
      ),
  })
  .strict()
  .describe('Deliver events with the same key one at a time, in stream order (README "Ordered delivery").');

export const orderingKeyBodySchema = z
  .object({
    key: z.string().min(1).max(MAX_ORDERING_KEY_LENGTH).optional().describe('The ordering key, as events carry it.'),
    keyHash: z
      .string()
      .regex(ORDERING_KEY_HASH_PATTERN, 'must be 32 lower-case hex digits')
      .optional()
      .describe("The key's hash, as the paused-key list shows it."),
  })
  .strict()
  .refine((b) => (b.key === undefined) !== (b.keyHash === undefined), 'give exactly one of key and keyHash');
// --- end ordered delivery

const endpointFields = {
  url: urlSchema,
  description: z.string().max(1024).optional(),
  eventTypes: z.array(eventTypePatternSchema).min(1).max(64),
  enabled: z.boolean().optional(),
  headers: headersSchema.optional(),
  metadata: metadataSchema.optional(),
  // --- Flow control (issue 17: rate, in flight, AIMD) ---
  rateLimit: z
    .number()
    .min(FLOW_CONTROL_LIMITS.rate.min)
    .max(FLOW_CONTROL_LIMITS.rate.max)
    .optional()
    .describe('Deliveries per second, enforced across every worker. `null` on update removes the limit.'),
  rateLimitBurst: z
    .number()
    .int()
    .min(FLOW_CONTROL_LIMITS.burst.min)
    .max(FLOW_CONTROL_LIMITS.burst.max)
    .optional()
    .describe(
      'Requests the rate limit lets go at once after a quiet spell. Default 1: evenly paced. Needs a `rateLimit`; removing the rate removes it.',
    ),
  maxInFlight: z
    .number()
    .int()
    .min(FLOW_CONTROL_LIMITS.maxInFlight.min)
    .max(FLOW_CONTROL_LIMITS.maxInFlight.max)
    .optional()
    .describe('Requests in flight at once, across every worker. `null` on update removes the cap.'),
  adaptiveBackoff: z
    .boolean()
    .optional()
    .describe(
      'With a rateLimit or maxInFlight: cut the rate on 429, 503 and timeouts and recover it on successes (AIMD), and pause every delivery to the endpoint on a `Retry-After`. Default true; `null` on update restores the default.',
    ),
  // --- end flow control ---
  retryPolicy: retryPolicySchema.optional(),
  filter: z.record(z.string(), z.unknown()).optional().describe('Mongo-style content filter over the event envelope.'),
  transform: z
    .string()
    .max(16 * 1024)
    .optional()
    .describe('JSONata expression producing the body.'),
  signatureScheme: signatureSchemeSchema.optional(),
  signatureVersions: signatureVersionsSchema.optional(),
  sendTraceparent: z
    .boolean()
    .optional()
    .describe(
      "Send the delivery attempt's W3C `traceparent` (and `tracestate`) header to the receiver when the service's tracing is on. Default false: a trace id is internal information.",
    ),
  ordering: orderingSchema.optional(),
};

export const createEndpointSchema = z
  .object({ ...endpointFields, secret: secretSchema.optional(), auth: endpointAuthSchema.optional() })
  .strict();
export const updateEndpointSchema = z
  .object({
    ...endpointFields,
    url: urlSchema.optional(),
    eventTypes: endpointFields.eventTypes.optional(),
    description: endpointFields.description.nullable(),
    filter: endpointFields.filter.nullable(),
    transform: endpointFields.transform.nullable(),
    auth: endpointAuthSchema.nullable().describe('Replaces the authentication whole; `null` removes it.'),
    ordering: endpointFields.ordering.nullable(),
    // --- Flow control (issue 17) ---
    rateLimit: endpointFields.rateLimit.nullable(),
    rateLimitBurst: endpointFields.rateLimitBurst.nullable(),
    maxInFlight: endpointFields.maxInFlight.nullable(),
    adaptiveBackoff: endpointFields.adaptiveBackoff.nullable(),
    // --- end flow control ---
  })
  .partial()
  .strict();

export const createTenantSchema = z
  .object({
    id: brandedId<TenantId>(RESOURCE_ID_PATTERN, 'Tenant id.'),
    name: z.string().max(256).optional(),
    retryPolicy: retryPolicySchema.optional(),
    metadata: metadataSchema.optional(),
  })
  .strict();

/** An event's `type` and `data`, as `POST …/events` and a test send take them. */
const eventFields = {
  type: z
    .string()
    .max(MAX_EVENT_TYPE_LENGTH)
    .regex(EVENT_TYPE_PATTERN, 'is not a valid event type (dot-separated segments of [A-Za-z0-9_-])'),
  data: z
    .unknown()
    .refine((v) => v !== undefined, 'is required')
    .describe(
      'Any JSON value, nested at most WSS_MAX_EVENT_DEPTH levels (default 64). Its source text is kept byte for byte: numbers, escapes and spacing reach the stream and the receiver as written.',
    ),
};

export const publishEventSchema = z
  .object({
    ...eventFields,
    id: brandedId<EventId>(EVENT_ID_PATTERN, 'Event id; defaults to `evt_<stream entry id>`.').optional(),
    traceparent: z
      .string()
      .max(256)
      .superRefine((value, ctx) => {
        const parsed = parseTraceparent(value);
        if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.reason });
      })
      .optional()
      .describe(
        "W3C `traceparent` of the producer's trace: the parent of the consumer's span when tracing is on (the stream entry's `traceparent` field).",
      ),
    tracestate: z
      .string()
      .max(512)
      .regex(/^[\x20-\x7e\t]*$/, 'must be printable ASCII')
      .optional()
      .describe('W3C `tracestate` that goes with `traceparent`.'),
    orderingKey: z
      .string()
      .min(1)
      // Counted in UTF-16 code units, as the consumer counts the stream field (zod's max counts code points), and
      // well-formed: a lone surrogate would reach the stream as U+FFFD, another key than the one given.
      .refine(
        (k) => k.length <= MAX_ORDERING_KEY_LENGTH,
        `must be at most ${MAX_ORDERING_KEY_LENGTH} UTF-16 code units`,
      )
      .refine((k) => !/\p{Cs}/u.test(k), 'must be valid Unicode (no lone surrogates)')
      .optional()
      .describe(
        "The ordering key of endpoints whose `ordering.key` is `orderingKey` (the stream entry's `orderingKey` field).",
      ),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.tracestate !== undefined && body.traceparent === undefined) {
      ctx.addIssue({ code: 'custom', path: ['tracestate'], message: 'needs a traceparent' });
    }
  });

/** A test send: the type and data of `POST …/events`, nothing else (the event gets a fresh id). */
export const testEventSchema = z.object(eventFields).strict();

export const createApiKeySchema = z.object({ name: z.string().min(1).max(128).optional() }).strict();

export const enableEndpointSchema = z
  .object({
    replayFailedSince: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('Also replay the deliveries that failed since this time (e.g. while the endpoint was down).'),
  })
  .strict();

export const rotateSecretSchema = z.object({ secret: secretSchema.optional() }).strict();

export type CreateEndpointBody = z.infer<typeof createEndpointSchema>;
export type UpdateEndpointBody = z.infer<typeof updateEndpointSchema>;
export type PublishEventBody = z.infer<typeof publishEventSchema>;

/** Path parameters. The auth hook checks `tenantId` first, so that a malformed one is a 400 before any 404. */
/**
 * A page size in a query string: decimal digits only (`z.coerce.number()` would also take `0x10`, `1e2` or ` 5`),
 * then bounded.
 */
export const pageLimit = (max: number, fallback: number) =>
  z
    .string()
    .regex(/^[0-9]{1,6}$/, 'must be a whole number written in decimal digits')
    .transform(Number)
    .pipe(z.number().int().min(1).max(max))
    .default(String(fallback) as never)
    .describe(`Page size, 1 to ${max} (default ${fallback}).`);

export const tenantParams = z.object({ tenantId: brandedId<TenantId>(RESOURCE_ID_PATTERN, 'Tenant id.') });
export const endpointParams = tenantParams.extend({
  endpointId: brandedId<EndpointId>(RESOURCE_ID_PATTERN, 'Endpoint id.'),
});
export const apiKeyParams = tenantParams.extend({ keyId: brandedId<ApiKeyId>(RESOURCE_ID_PATTERN, 'API key id.') });
export const eventParams = tenantParams.extend({ eventId: brandedId<EventId>(EVENT_ID_PATTERN, 'Event id.') });
